package human

import "testing"

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 22652: "22.1 KiB", 3 << 20: "3.0 MiB",
		5<<30 + 1<<29: "5.5 GiB", 2 << 40: "2.0 TiB", 3 << 50: "3072.0 TiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
