package ccaas

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

// ParseConfig decodes the value of ConfigEnv: a JSON object of strings. An
// empty value is no configuration.
func ParseConfig(value string) (map[string]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var config map[string]string
	if err := json.Unmarshal([]byte(value), &config); err != nil {
		return nil, fmt.Errorf("%s must be a JSON object of strings: %w", ConfigEnv, err)
	}
	return config, nil
}

// render fills the connection's templated values from the peer's config. A
// key the template names but the config lacks is an error, never an empty
// string: a peer without its configuration must not dial "" or trust no CA.
func (c Connection) render(config map[string]string) (Connection, error) {
	fields := []struct {
		name string
		v    *string
	}{
		{"address", &c.Address}, {"dial_timeout", &c.DialTimeout},
		{"root_cert", &c.RootCert}, {"client_cert", &c.ClientCert}, {"client_key", &c.ClientKey},
	}
	funcs := template.FuncMap{"file": func(path string) (string, error) {
		b, err := os.ReadFile(path)
		return string(b), err
	}}
	for _, f := range fields {
		if !strings.Contains(*f.v, "{{") {
			continue
		}
		t, err := template.New(f.name).Funcs(funcs).Option("missingkey=error").Parse(*f.v)
		if err != nil {
			return c, fmt.Errorf("connection.json: %s: %w", f.name, err)
		}
		var out strings.Builder
		if err := t.Execute(&out, config); err != nil {
			return c, fmt.Errorf("connection.json: %s needs the peer's %s: %w", f.name, ConfigEnv, err)
		}
		*f.v = out.String()
	}
	return c, nil
}
