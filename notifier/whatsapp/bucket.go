package whatsapp

import (
	"net/http"
	"strconv"
)

// CodeBucket is the label an error code is counted under: the code itself
// when it is one this package knows (ClassifyError names it), "other" for
// anything else, "none" for 0, so a metric label has a bounded set of
// values whatever codes a webhook carries.
func CodeBucket(code int) string {
	if code == 0 {
		return "none"
	}
	// A code ClassifyError does not know falls back to the HTTP status,
	// so only a known code is classified alike for a 4xx and a 5xx.
	if ClassifyError(code, 0, http.StatusBadRequest) == ClassifyError(code, 0, http.StatusInternalServerError) {
		return strconv.Itoa(code)
	}
	return "other"
}
