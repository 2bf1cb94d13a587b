package httpserver

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseRecorder is the one writer the middleware wraps around each
// response: it notes the final status and the bytes sent, for the
// request's metrics and its span. It keeps what handlers use of the
// server's writer, by type assertion or through http.ResponseController:
// Flush (streaming), Hijack (WebSocket upgrades), ReadFrom (sendfile, as
// http.ServeContent and FileServer send files), WriteString, and Unwrap
// for deadlines, full duplex and whatever Go adds.
type responseRecorder struct {
	http.ResponseWriter
	status  int // 0 until the final header is written
	written int64
}

// finalStatus is the status the client got: 200 when the handler wrote
// nothing, as net/http answers then.
func (w *responseRecorder) finalStatus() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// sending notes the 200 that a body sent before any header implies, as
// net/http sends it.
func (w *responseRecorder) sending() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
}

func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseRecorder) WriteHeader(code int) {
	// An informational header (103 Early Hints) precedes the final one.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols || code < 100) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(p []byte) (int, error) {
	w.sending()
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// WriteString keeps the server's own, which copies no string to bytes.
func (w *responseRecorder) WriteString(s string) (int, error) {
	w.sending()
	n, err := io.WriteString(w.ResponseWriter, s)
	w.written += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's sendfile path.
func (w *responseRecorder) ReadFrom(src io.Reader) (int64, error) {
	w.sending()
	n, err := io.Copy(w.ResponseWriter, src)
	w.written += n
	return n, err
}

func (w *responseRecorder) Flush() {
	w.sending()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over; HTTP/2 connections cannot be, and say
// so (http.ErrNotSupported).
func (w *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
