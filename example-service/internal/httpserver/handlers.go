package httpserver

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/golang/glog"

	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

// helloResponse is the body of GET /.
type helloResponse struct {
	Message  string `json:"message"`
	Version  string `json:"version"`
	Hostname string `json:"hostname"`
}

// hello greets the caller. The optional query parameter sleep (a Go duration,
// at most MaxSleep) simulates a slow request. It sleeps without watching the
// request context, like a handler stuck in a blocking call, which is what the
// shutdown timeout exists to bound.
func hello(deps Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s := r.URL.Query().Get("sleep"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 || d > MaxSleep {
				http.Error(w, "sleep must be a duration from 0 to "+MaxSleep.String()+", e.g. 250ms", http.StatusBadRequest)
				return
			}
			time.Sleep(d)
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "world"
		}
		writeJSON(w, helloResponse{
			Message:  "Hello, " + name + "!",
			Version:  deps.Info.Version,
			Hostname: deps.Hostname,
		})
	}
}

// versionHandler serves GET /version.
func versionHandler(info version.Info) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, info) }
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// The client went away mid-response; nothing useful is left to send.
		glog.V(1).Infof("http: write response: %v", err)
	}
}
