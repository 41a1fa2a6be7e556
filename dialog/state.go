package dialog

import (
	"encoding/binary"
	"errors"
	"time"
)

// stateVersion is the first byte of an encoded State. A State with no
// Files is written as version 1, as it was before Files existed, so that
// a replica not yet upgraded (or rolled back to) still reads it; only
// conversations that kept files need version 2, only those with a Report
// version 3, and only those that chose or were asked where messages at
// rest go (Relay, Asked) version 4. Stopped is a flag bit older readers
// ignore.
const stateVersion = 4

// ErrBadState is returned when stored state cannot be read; the caller
// starts the conversation over.
var ErrBadState = errors.New("dialog: unreadable conversation state")

// AppendBinary appends the compact encoding of s to b.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	v := byte(stateVersion)
	switch {
	case s.Relay != "" || s.Asked != "":
	case s.Report != "":
		v = 3
	case s.Files == 0:
		v = 1
	default:
		v = 2
	}
	b = append(b, v)
	var flags byte
	if s.Urgent {
		flags |= 1
	}
	if s.Paused {
		flags |= 2
	}
	if s.Stopped {
		flags |= 4
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(s.Updated))
	b = binary.AppendUvarint(b, uint64(s.Misses))
	if v >= 2 {
		b = binary.AppendUvarint(b, uint64(s.Files))
	}
	b = appendString(b, string(s.Lang))
	b = appendString(b, s.Step)
	b = appendString(b, s.Return)
	b = appendString(b, s.More)
	b = appendString(b, s.Ticket)
	b = binary.AppendUvarint(b, uint64(len(s.Trail)))
	for _, t := range s.Trail {
		b = appendString(b, t)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Answers)))
	for _, a := range s.Answers {
		b = appendString(b, a.Field)
		b = appendString(b, a.Value)
	}
	if v >= 3 {
		b = appendString(b, s.Report)
	}
	if v >= 4 {
		b = appendString(b, s.Relay)
		b = appendString(b, s.Asked)
	}
	return b, nil
}

// MarshalBinary encodes s.
func (s *State) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 64+16*len(s.Answers)))
}

// UnmarshalBinary decodes what AppendBinary wrote. It returns ErrBadState
// for anything else, leaving s zero.
func (s *State) UnmarshalBinary(b []byte) error {
	*s = State{}
	d := decoder{b: b}
	v := d.byte()
	if v < 1 || v > stateVersion {
		return ErrBadState
	}
	flags := d.byte()
	s.Urgent = flags&1 != 0
	s.Paused = flags&2 != 0
	s.Stopped = flags&4 != 0
	s.Updated = int64(d.uvarint())
	s.Misses = int(d.uvarint())
	if v >= 2 {
		s.Files = int(d.uvarint())
	}
	s.Lang = Lang(d.string())
	s.Step = d.string()
	s.Return = d.string()
	s.More = d.string()
	s.Ticket = d.string()
	if n := d.count(); n > 0 {
		s.Trail = make([]string, n)
		for i := range s.Trail {
			s.Trail[i] = d.string()
		}
	}
	if n := d.count(); n > 0 {
		s.Answers = make([]Answer, n)
		for i := range s.Answers {
			s.Answers[i] = Answer{d.string(), d.string()}
		}
	}
	if v >= 3 {
		s.Report = d.string()
	}
	if v >= 4 {
		s.Relay = d.string()
		s.Asked = d.string()
	}
	if d.bad || len(d.b) != 0 {
		*s = State{}
		return ErrBadState
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that cannot exceed what is left.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	if d.bad {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func unix(sec int64) time.Time { return time.Unix(sec, 0) }
