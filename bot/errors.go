package bot

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error so that each edge can translate it once:
// to an HTTP status, to a reply text, or to a retry decision.
type ErrorKind uint8

const (
	Other       ErrorKind = iota
	NotFound              // no such ticket or record
	Invalid               // bad input from outside
	Conflict              // a unique value is already taken
	Temporary             // worth retrying: a timeout, a throttle, an unreachable server
	Permanent             // not worth retrying: opted out, an invalid number
	Unavailable           // a dependency is down
)

func (k ErrorKind) String() string {
	switch k {
	case NotFound:
		return "not found"
	case Invalid:
		return "invalid"
	case Conflict:
		return "conflict"
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case Unavailable:
		return "unavailable"
	}
	return "other"
}

// Error is aduan's one error shape: an operation, a kind, and the cause.
type Error struct {
	Op   string
	Kind ErrorKind
	Err  error
}

// E builds an *Error.
func E(op string, kind ErrorKind, err error) error {
	return &Error{Op: op, Kind: kind, Err: err}
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s", e.Op, e.Kind)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the outermost *Error in err's chain that has
// one, or Other.
func KindOf(err error) ErrorKind {
	var e *Error
	for errors.As(err, &e) {
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Other
}

// Mask hides the middle of a phone number or other address for logs:
// "+6281337785111" becomes "+62813****5111".
func Mask(addr string) string {
	r := []rune(addr)
	if len(r) <= 6 {
		return "****"
	}
	keep := 6
	if len(r) < 11 {
		keep = 3
	}
	return string(r[:keep]) + "****" + string(r[len(r)-4:])
}
