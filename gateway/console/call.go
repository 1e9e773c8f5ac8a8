package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/gateway/api"
)

// call runs one REST API request in-process as the signed-in key. A
// response that is not 2xx comes back as the API's problem detail.
func (c *Console) call(ec echo.Context, method, path string, q url.Values, body any, idempotencyKey string) ([]byte, *api.Problem) {
	var rd io.Reader = http.NoBody
	contentType := "application/json"
	if up, ok := body.(csvUpload); ok {
		rd, contentType = bytes.NewReader(up.data), "text/csv"
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, &api.Problem{Title: "Internal error", Status: http.StatusInternalServerError}
		}
		rd = bytes.NewReader(b)
	}
	u := path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	r, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, &api.Problem{Title: "Bad request", Detail: fmt.Sprintf("%s: not a valid address", path), Status: http.StatusBadRequest}
	}
	r.RemoteAddr = ec.Request().RemoteAddr
	r.Host = ec.Request().Host
	if body != nil {
		r.Header.Set("Content-Type", contentType)
	}
	if idempotencyKey != "" {
		r.Header.Set("Idempotency-Key", idempotencyKey)
	}
	if id := ec.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		r.Header.Set(echo.HeaderXRequestID, id)
	}
	k, _ := ec.Get(ctxKey).(api.Key)
	resp := (*c.api.Load()).Do(ec.Request().Context(), k, r)
	if resp.Status >= 200 && resp.Status < 300 {
		return resp.Body, nil
	}
	p := &api.Problem{}
	if err := json.Unmarshal(resp.Body, p); err != nil || p.Title == "" {
		p = &api.Problem{Title: http.StatusText(resp.Status), Status: resp.Status}
	}
	if p.Status == 0 {
		p.Status = resp.Status
	}
	return nil, p
}
