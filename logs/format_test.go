package logs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name   string
		format string
		args   [MaxArgs]uint64
		want   string
	}{
		{"literal", "no args", [MaxArgs]uint64{1, 2, 3, 4}, "no args"},
		{"decimal", "n=%d", [MaxArgs]uint64{18446744073709551615}, "n=18446744073709551615"},
		{"hex", "%x/%x", [MaxArgs]uint64{0xdeadbeef, 0}, "deadbeef/0"},
		{"ip", "from %ip", [MaxArgs]uint64{0x0a000001}, "from 10.0.0.1"},
		{"ip6", "to %ip6 on %d", [MaxArgs]uint64{0x20010db8_00010000, 0x5, 3}, "to 2001:db8:1::5 on 3"},
		{"ip6 link-local", "%ip6", [MaxArgs]uint64{0xfe800000_00000000, 0x1}, "fe80::1"},
		{"ip high bits ignored", "%ip", [MaxArgs]uint64{0xffffffff_c0a80101}, "192.168.1.1"},
		{"mac", "%mac", [MaxArgs]uint64{0x0000_aabbccddeeff}, "aa:bb:cc:dd:ee:ff"},
		{"mac leading zeros", "%mac", [MaxArgs]uint64{0x0102}, "00:00:00:00:01:02"},
		{"mac high bits ignored", "%mac", [MaxArgs]uint64{0xffff_000000000001}, "00:00:00:00:00:01"},
		{"percent", "100%% of %d", [MaxArgs]uint64{7}, "100% of 7"},
		{"verb then text", "%dx %ipx", [MaxArgs]uint64{5, 0x01020304}, "5x 1.2.3.4x"},
		{"all four", "if %d: %ip -> %mac (%x)", [MaxArgs]uint64{3, 0xc0000201, 0x02005e001001, 255}, "if 3: 192.0.2.1 -> 02:00:5e:00:10:01 (ff)"},
		{"utf8", "naïve %d ✓", [MaxArgs]uint64{1}, "naïve 1 ✓"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, err := parseFormat(tt.format)
			if err != nil {
				t.Fatalf("parseFormat(%q): %v", tt.format, err)
			}
			if got := render(segs, tt.args); got != tt.want {
				t.Errorf("render(%q, %v) = %q, want %q", tt.format, tt.args, got, tt.want)
			}
		})
	}
}

func TestParseFormatErrors(t *testing.T) {
	tests := []struct {
		name   string
		format string
		want   error
	}{
		{"empty", "", ErrFormatEmpty},
		{"unknown verb", "%s", ErrFormatVerb},
		{"unknown verb later", "ok %d then %q", ErrFormatVerb},
		{"trailing percent", "50%", ErrFormatVerb},
		{"percent i alone", "%i", ErrFormatVerb},
		{"five args", "%d %d %d %d %d", ErrFormatArgs},
		{"ip6 counts twice", "%ip6 %ip6 %d", ErrFormatArgs},
		{"too long", strings.Repeat("a", MaxFormatLen+1), ErrFormatLen},
		{"bad utf8", "a\xffb", ErrFormatUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFormat(tt.format)
			if !errors.Is(err, tt.want) {
				t.Errorf("parseFormat(%q) = %v, want %v", tt.format, err, tt.want)
			}
		})
	}
	if _, err := parseFormat(strings.Repeat("a", MaxFormatLen)); err != nil {
		t.Errorf("format of exactly MaxFormatLen bytes: %v", err)
	}
}

func TestRegister(t *testing.T) {
	f := newTestFile(t, 1, 8)
	a, err := f.Register("a %d")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Register("b %x")
	if err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 2 {
		t.Errorf("ids = %d, %d, want 1, 2", a, b)
	}
	if again, err := f.Register("a %d"); err != nil || again != a {
		t.Errorf("registering %q again = %d, %v, want %d, nil", "a %d", again, err, a)
	}
	if _, err := f.Register("bad %s"); !errors.Is(err, ErrFormatVerb) || !strings.Contains(err.Error(), `"bad %s"`) {
		t.Errorf("Register(bad %%s) = %v, want ErrFormatVerb naming the format", err)
	}
	// Fill the table: the failed registration above must not have used a slot.
	for i := 2; i < MaxFormats; i++ {
		if _, err := f.Register(fmt.Sprintf("format %d", i)); err != nil {
			t.Fatalf("format %d: %v", i, err)
		}
	}
	if _, err := f.Register("one too many"); !errors.Is(err, ErrFormatsFull) {
		t.Errorf("Register on a full table = %v, want ErrFormatsFull", err)
	}
	if id, err := f.Register("b %x"); err != nil || id != b {
		t.Errorf("a registered format on a full table = %d, %v, want %d, nil", id, err, b)
	}
}
