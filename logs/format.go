package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format is the id of a registered format, as returned by
// [File.Register]. The zero Format is never registered.
type Format uint16

// verb is one placeholder kind.
type verb uint8

const (
	verbNone verb = iota // a literal segment
	verbDec              // %d
	verbHex              // %x
	verbIP               // %ip
	verbMAC              // %mac
	verbIP6              // %ip6: two arguments, the high and low halves
)

// width is how many arguments a verb takes.
func (v verb) width() int {
	if v == verbIP6 {
		return 2
	}
	return 1
}

// verbs maps placeholder text (without the %) to its verb. Longer names come
// first where one is a prefix of another (none today, but keep it so).
var verbs = []struct {
	name string
	v    verb
}{
	{"mac", verbMAC},
	{"ip6", verbIP6},
	{"ip", verbIP},
	{"d", verbDec},
	{"x", verbHex},
}

// segment is a literal followed by an optional placeholder.
type segment struct {
	lit  string
	verb verb
}

// Format errors, wrapped with the offending format by Register.
var (
	ErrFormatVerb  = errors.New("unknown placeholder (want %d, %x, %ip, %ip6, %mac or %%)")
	ErrFormatArgs  = fmt.Errorf("more than %d placeholders", MaxArgs)
	ErrFormatLen   = fmt.Errorf("longer than %d bytes", MaxFormatLen)
	ErrFormatUTF8  = errors.New("not valid UTF-8")
	ErrFormatsFull = fmt.Errorf("logs: all %d format slots are in use", MaxFormats)
	ErrFormatEmpty = errors.New("empty format")
)

// parseFormat splits a format into segments and checks it.
func parseFormat(s string) ([]segment, error) {
	switch {
	case s == "":
		return nil, ErrFormatEmpty
	case len(s) > MaxFormatLen:
		return nil, ErrFormatLen
	case !utf8.ValidString(s):
		return nil, ErrFormatUTF8
	}
	var segs []segment
	var lit strings.Builder
	args := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		rest := s[i+1:]
		if strings.HasPrefix(rest, "%") {
			lit.WriteByte('%')
			i += 2
			continue
		}
		v, n := verbNone, 0
		for _, cand := range verbs {
			if strings.HasPrefix(rest, cand.name) {
				v, n = cand.v, len(cand.name)
				break
			}
		}
		if v == verbNone {
			return nil, fmt.Errorf("%w at byte %d", ErrFormatVerb, i)
		}
		if args += v.width(); args > MaxArgs {
			return nil, ErrFormatArgs
		}
		segs = append(segs, segment{lit: lit.String(), verb: v})
		lit.Reset()
		i += 1 + n
	}
	if lit.Len() > 0 {
		segs = append(segs, segment{lit: lit.String()})
	}
	return segs, nil
}

// render formats args with the segments of a parsed format.
func render(segs []segment, args [MaxArgs]uint64) string {
	var b []byte
	a := 0
	for _, s := range segs {
		b = append(b, s.lit...)
		if s.verb == verbNone {
			continue
		}
		if s.verb == verbIP6 {
			b = netip.AddrFrom16(ip6Bytes(args[a], args[a+1])).AppendTo(b)
			a += 2
			continue
		}
		b = appendArg(b, s.verb, args[a])
		a++
	}
	return string(b)
}

func ip6Bytes(hi, lo uint64) [16]byte {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], hi)
	binary.BigEndian.PutUint64(a[8:], lo)
	return a
}

func appendArg(b []byte, v verb, x uint64) []byte {
	switch v {
	case verbDec:
		return strconv.AppendUint(b, x, 10)
	case verbHex:
		return strconv.AppendUint(b, x, 16)
	case verbIP:
		for i := 3; i >= 0; i-- {
			b = strconv.AppendUint(b, x>>(8*i)&0xff, 10)
			if i > 0 {
				b = append(b, '.')
			}
		}
		return b
	case verbMAC:
		const hex = "0123456789abcdef"
		for i := 5; i >= 0; i-- {
			o := x >> (8 * i) & 0xff
			b = append(b, hex[o>>4], hex[o&0xf])
			if i > 0 {
				b = append(b, ':')
			}
		}
		return b
	}
	return b
}
