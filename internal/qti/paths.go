package qti

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// badEntryName says why a ZIP entry name is unsafe, or returns "".
func badEntryName(name string) string {
	if name == "" {
		return "has an empty name"
	}
	return badPath(name, false)
}

// badPath says why p, a decoded slash-separated path inside the package,
// is unsafe, or returns "". A ".." segment is refused unless dotdot is
// set: ZIP entry names and manifest hrefs never need one, and refusing it
// means every extractor agrees on where each file goes. Hrefs inside the
// assessmentTest may use ".." (TAO exports do) as long as resolve keeps
// them inside the package.
func badPath(p string, dotdot bool) string {
	switch {
	case !utf8.ValidString(p):
		return "is not valid utf-8"
	case strings.IndexByte(p, 0) >= 0:
		return "contains a nul byte"
	case strings.IndexFunc(p, isControl) >= 0:
		return "contains a control character"
	case strings.IndexByte(p, '\\') >= 0:
		return "contains a backslash"
	case strings.HasPrefix(p, "/"):
		return "is absolute"
	case hasDriveLetter(p):
		return "starts with a drive letter"
	}
	if !dotdot {
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." {
				return "contains a .. segment"
			}
		}
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

func hasDriveLetter(p string) bool {
	return len(p) >= 2 && p[1] == ':' && ('a' <= p[0] && p[0] <= 'z' || 'A' <= p[0] && p[0] <= 'Z')
}

// decodeHref turns raw, a URL-encoded relative reference from an XML
// document, into a decoded slash-separated path ("" for a reference to the
// document itself) for the caller to check with badPath and resolve. If
// raw is refused it says why, and whether that is because it leaves the
// package (a URL with a scheme or a host, a drive letter, a backslash, a
// control character) rather than being malformed (not a URL, a query).
// External URLs are refused even for <file href>: a test centre delivers
// offline from the stored package, and a remote file could change after
// validation, so the exam delivered would not be the exam validated.
func decodeHref(raw string) (p, why string, escape bool) {
	if strings.IndexByte(raw, '\\') >= 0 {
		return "", "contains a backslash", true
	}
	if strings.IndexFunc(raw, isControl) >= 0 {
		return "", "contains a control character", true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "is not a valid url", false
	}
	switch {
	case len(u.Scheme) == 1:
		return "", "starts with a drive letter", true
	case u.Scheme != "":
		return "", "is a url outside the package", true
	case u.Host != "" || u.User != nil || strings.HasPrefix(raw, "//"):
		return "", "names a host", true
	case u.RawQuery != "" || u.ForceQuery:
		return "", "has a query", false
	}
	return u.Path, "", false
}

// resolve resolves the decoded relative path rel against base, the path
// in the package of the document (or xml:base) it appears in: only base's
// folder counts, as for a URL. It returns false if ".." leaves the
// package. A result ending in "/" names a folder.
func resolve(base, rel string) (string, bool) {
	dir := base[:strings.LastIndex(base, "/")+1]
	segs := strings.Split(dir+rel, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return "", false
			}
			out = out[:len(out)-1]
		default:
			out = append(out, s)
			continue
		}
		if last && len(out) > 0 {
			out = append(out, "") // keep the trailing slash of a folder
		}
	}
	return strings.Join(out, "/"), true
}
