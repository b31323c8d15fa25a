module example.com/r2ext

go 1.26.0

require github.com/r2go/r2 v0.0.0

require (
	github.com/google/go-cmp v0.7.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/r2go/r2 => ../..
