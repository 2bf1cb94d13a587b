package httpserver

import (
	"encoding/json"
	"net/http"

	"github.com/golang/glog"

	"github.com/zerodrop/zerodrop/example-service/internal/version"
)

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
