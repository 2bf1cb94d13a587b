package lint

import "testing"

func TestImageTag(t *testing.T) {
	for _, tt := range []struct {
		image  string
		tag    string
		digest bool
	}{
		{"nginx", "", false},
		{"nginx:1.27", "1.27", false},
		{"localhost:5000/team/app", "", false},
		{"localhost:5000/team/app:2.0.1", "2.0.1", false},
		{"ghcr.io/a/b@sha256:0123", "", true},
		{"ghcr.io/a/b:1.0@sha256:0123", "1.0", true},
	} {
		if tag, digest := imageTag(tt.image); tag != tt.tag || digest != tt.digest {
			t.Errorf("imageTag(%q) = %q, %v; want %q, %v", tt.image, tag, digest, tt.tag, tt.digest)
		}
	}
}
