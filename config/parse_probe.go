package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/l3dsr/l3dsr/health"
)

// The values of the kind-specific keys of a health block. Each parser's
// error, which into makes the file error, names the key, the value and
// the fix.

// httpMethods are the methods a check may send: those a health endpoint
// answers. CONNECT and TRACE are not checks.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func parseMethod(s string) (string, error) {
	m := strings.ToUpper(s)
	if !slices.Contains(httpMethods, m) {
		return "", fmt.Errorf("method %q is not an HTTP method a check sends: use %s", s, strings.Join(httpMethods, ", "))
	}
	return m, nil
}

func parsePath(s string) (string, error) {
	if !strings.HasPrefix(s, "/") {
		return "", fmt.Errorf("path %q does not start with /: write the path of the URL, e.g. /%s", s, strings.TrimLeft(s, "/"))
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return "", fmt.Errorf("path %q has a space or control character: escape it (a space is %%20)", s)
	}
	if _, err := url.ParseRequestURI(s); err != nil {
		return "", fmt.Errorf("path %q is not a URL path: %v", s, err)
	}
	return s, nil
}

func parseBody(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("body %q is not a regular expression (Go's RE2 syntax): %v; write e.g. 'body: \"ok|healthy\"'", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// parseHost takes a Host header: a name, or an address, with an optional
// port; never a URL.
func parseHost(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("host is empty: give the Host header to send, e.g. www.example.com, or leave the key out for the VIP")
	}
	if strings.ContainsAny(s, "/ \t@?#") {
		return "", fmt.Errorf("host %q is not a host name: give the Host header alone, e.g. www.example.com (no scheme, path or space)", s)
	}
	return s, nil
}

// The DNS values are the health package's words, so that what the file
// accepts is what the probe sends and compares; the Spec keeps them as
// written, in capitals, and the query absolute (there is no search list to
// complete it).

func parseQuery(s string) (string, error) {
	n, err := health.ParseQuery(s)
	if err != nil {
		return "", err
	}
	return n.String(), nil
}

func parseQType(s string) (string, error) {
	_, err := health.ParseQType(s)
	return strings.ToUpper(s), err
}

func parseRCode(s string) (string, error) {
	_, err := health.ParseRCode(s)
	return strings.ToUpper(s), err
}
