package render

import (
	"sort"
	"strconv"
	"strings"
)

// RecordFile is the file, at the root of every generated service, that
// records the answers and the template tree it was rendered from. The
// template .scaffold.yaml.tmpl writes it; ReadRecord reads it back.
const RecordFile = ".scaffold.yaml"

// ReadRecord parses a RecordFile into the Data it was rendered with. The
// file is what the template writes, one "key: value" a line, and is read as
// exactly that rather than as general YAML, where a service named "no" or
// "on" would turn into a boolean. Keys it does not know are an error: they
// would come from a newer scaffold, whose templates this one cannot render.
func ReadRecord(b []byte) (Data, error) {
	d := Data{}
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return Data{}, inputErrorf("%s line %d is not \"key: value\": restore the file from git", RecordFile, i+1)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if seen[key] {
			return Data{}, inputErrorf("%s line %d repeats %s: keep one", RecordFile, i+1, key)
		}
		seen[key] = true
		switch key {
		case "scaffoldVersion":
			d.ScaffoldVersion = value
		case "templateHash":
			d.TemplateHash = value
		default:
			if err := d.SetAnswer(key, value); err != nil {
				return Data{}, inputErrorf("%s line %d: %v; restore the file from git, or run the newer scaffold that wrote it", RecordFile, i+1, err)
			}
		}
	}
	if d.Name == "" || d.Module == "" || d.ScaffoldVersion == "" {
		return Data{}, inputErrorf("%s lacks scaffoldVersion, name or module: restore it from git", RecordFile)
	}
	// Answers added since: a service rendered before them gets what
	// scaffold new gives now.
	if !seen["gateway"] {
		d.GatewayName = DefaultGatewayName
	}
	if !seen["gatewayNamespace"] {
		d.GatewayNamespace = DefaultGatewayNamespace
	}
	return d, nil
}

// AnswerKeys are the RecordFile keys that SetAnswer can change.
func AnswerKeys() []string {
	keys := []string{"name", "module", "httpPort", "grpcPort", "healthPort", "image", "host", "namespace", "gateway", "gatewayNamespace", "example"}
	sort.Strings(keys)
	return keys
}

// SetAnswer changes one answer of d, named by its RecordFile key. Validate
// checks the result as a whole.
func (d *Data) SetAnswer(key, value string) error {
	port := func(p *int) error {
		n, err := strconv.Atoi(value)
		if err != nil {
			return inputErrorf("%s %q is not a port number: give one from 1024 to 65535", key, value)
		}
		*p = n
		return nil
	}
	switch key {
	case "name":
		d.Name = value
	case "module":
		d.Module = value
	case "httpPort":
		return port(&d.HTTPPort)
	case "grpcPort":
		return port(&d.GRPCPort)
	case "healthPort":
		return port(&d.HealthPort)
	case "image":
		d.Image = value
	case "host":
		d.IngressHost = value
	case "namespace":
		d.Namespace = value
	case "gateway":
		d.GatewayName = value
	case "gatewayNamespace":
		d.GatewayNamespace = value
	case "example":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return inputErrorf("example %q is not true or false", value)
		}
		d.NoExample = !b
	default:
		return inputErrorf("unknown answer %q: the answers are %s, as in %s", key, strings.Join(AnswerKeys(), ", "), RecordFile)
	}
	return nil
}
