package service

import "net/http"

// healthHandler serves what orchestrators and Prometheus poll, on a port of
// its own: /healthz, /readyz and /metrics answer without credentials
// because they hold no personal data (metric labels are templates,
// outcomes and event types; readiness reasons are the provider's error
// codes), and whoever may reach them gets no way into the admin API.
func (s *Service) healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", s.metrics.Handler())
	return mux
}

// handleReady is 200 when the store answers and the event stream is up;
// a paused sender is reported (and makes it 503) because nothing goes out.
func (s *Service) handleReady(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	connected := s.connected
	s.mu.Unlock()
	body := map[string]any{"intakeConnected": connected}
	status := http.StatusOK
	if err := s.store.Ping(); err != nil {
		body["store"] = err.Error()
		status = http.StatusServiceUnavailable
	}
	if !connected {
		status = http.StatusServiceUnavailable
	}
	if reason := s.sender.Paused(); reason != "" {
		body["sendingPaused"] = reason
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}
