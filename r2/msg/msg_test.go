package msg

import (
	"reflect"
	"testing"
)

// hasPointers reports whether values of t hold pointers (which would make
// Up costly for the garbage collector and its channel sends allocate).
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return hasPointers(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return false
	}
	return true
}

func TestUpPointerFree(t *testing.T) {
	if hasPointers(reflect.TypeFor[Up]()) {
		t.Error("Up holds pointers")
	}
	if hasPointers(reflect.TypeFor[MAC6Learned]()) {
		t.Error("MAC6Learned holds pointers")
	}
}

func TestUpMAC6(t *testing.T) {
	l := NewUplink(1)
	u := Up{Kind: UpMAC6, Thread: 1, Ifindex: 3, IP6: [16]byte{0xfe, 0x80, 15: 1}, MAC: [6]byte{2, 0, 0, 0, 0, 9}, Create: true}
	if n := testing.AllocsPerRun(100, func() {
		if !l.Send(u) {
			t.Fatal("Send")
		}
		<-l.C
	}); n != 0 {
		t.Errorf("%v allocations per report", n)
	}
	l.Send(u)
	if l.Send(u) {
		t.Error("Send to a full uplink succeeded")
	}
	if got := <-l.C; got != u {
		t.Errorf("got %+v, want %+v", got, u)
	}
	if UpMAC6 == UpMAC {
		t.Error("kinds collide")
	}
	var m Msg = MAC6Learned{Ifindex: 3, IP: u.IP6, MAC: u.MAC}
	if _, ok := m.(MAC6Learned); !ok {
		t.Error("MAC6Learned is not a Msg")
	}
}
