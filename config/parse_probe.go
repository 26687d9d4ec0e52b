package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// The values of the kind-specific keys of a health block. Each parser's
// error names the value and the fix; into puts the key before it.

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

// parseQuery takes the name a DNS check asks for, and makes it absolute
// (the trailing dot): there is no search list to complete it.
func parseQuery(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("query %q %s: give a domain name, e.g. example.com. (or . for the root)", s, why)
	}
	if s == "" {
		return bad("is empty")
	}
	if s == "." {
		return s, nil
	}
	name := strings.TrimSuffix(s, ".")
	if len(name) > 253 {
		return bad("is longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return bad("has an empty label")
		case len(label) > 63:
			return bad("has a label longer than 63 characters")
		case strings.ContainsFunc(label, func(r rune) bool { return r <= ' ' || r > '~' }):
			return bad("has a space or a character outside ASCII (write an IDN as xn--)")
		}
	}
	return name + ".", nil
}

// dnsTypes and dnsRCodes are the query types and answer codes a check may
// name. TODO(issue 16): call the health package's DNS validation instead,
// once it exports one, so that the two lists cannot drift apart.
var (
	dnsTypes  = []string{"A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"}
	dnsRCodes = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}
)

func parseQType(s string) (string, error) {
	return oneOf(s, "qtype", "a query type", dnsTypes)
}

func parseRCode(s string) (string, error) {
	return oneOf(s, "rcode", "an answer code", dnsRCodes)
}

// oneOf is s in upper case if it is one of names.
func oneOf(s, key, what string, names []string) (string, error) {
	u := strings.ToUpper(s)
	if !slices.Contains(names, u) {
		return "", fmt.Errorf("%s %q is not %s a check knows: use %s", key, s, what, strings.Join(names, ", "))
	}
	return u, nil
}
