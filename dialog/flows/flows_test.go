package flows_test

import (
	"testing"

	"aduan/dialog/flows"
)

func TestDefaultsCompile(t *testing.T) {
	if _, err := flows.Load(""); err != nil {
		t.Fatalf("embedded flows do not compile:\n%v", err)
	}
}
