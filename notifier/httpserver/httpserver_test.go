package httpserver_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier/httpserver"
)

func TestTheServerDropsAClientThatWithholdsTheBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.ReadAll(r.Body) })
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = httpserver.New(h, httpserver.Timeouts{Read: 300 * time.Millisecond})
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promise a body that never comes.
	_, _ = io.WriteString(conn, "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, conn) // returns when the server closes the connection, or at the deadline
	if held := time.Since(start); held > 2*time.Second {
		t.Errorf("the server held a connection without a body for %s", held.Round(time.Millisecond))
	}
}

func TestEveryTimeoutIsSet(t *testing.T) {
	srv := httpserver.New(http.NotFoundHandler(), httpserver.Timeouts{Write: time.Second})
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("defaults missing: %+v", srv)
	}
	if srv.WriteTimeout != time.Second {
		t.Errorf("write timeout %s, want the 1s asked for", srv.WriteTimeout)
	}
}
