// Package version describes what is running: the deployed version from the
// ConfigMap, and what the binary was built from. The two are kept apart on
// purpose: a ConfigMap change rolls the Deployment without a rebuild.
package version

import "runtime/debug"

// Info is reported in the X-Version header, on /version, by the drill and in
// the build_info metric.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// revision is set with -ldflags "-X .../internal/version.revision=SHA" where
// the toolchain cannot see the repository, as in the Dockerfile's build,
// whose context leaves .git out.
var revision string

// Read combines the deployed version with the build information that the Go
// toolchain stamps into every binary.
func Read(deployed string) Info {
	info := Info{Version: deployed, Revision: revision}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info.GoVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if info.Revision == "" {
				info.Revision = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}
