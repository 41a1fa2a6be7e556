package main

import (
	"bytes"
	"encoding/base64"

	"aduan/internal/config"
)

// testSecurity holds the test configuration's keys: fixed, and used
// nowhere else.
var testSecurity = config.Security{
	EncryptionKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x11}, 32)),
	LookupKey:     base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x22}, 32)),
}
