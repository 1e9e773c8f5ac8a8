package template

// LanguageFor is the language a message of the WhatsApp template name
// goes out in for a recipient who wants want (ResolveLanguage), and false
// when no configured template has that name. A tracking-link open is
// counted under it, the language its message was counted under.
func (r *Renderer) LanguageFor(name, want string) (string, bool) {
	for _, s := range r.specs {
		if s.Name == name {
			return ResolveLanguage(want, s.Languages, s.Fallback), true
		}
	}
	return "", false
}
