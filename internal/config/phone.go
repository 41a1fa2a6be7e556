package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalidPhone is what errors from NormalizePhone match with errors.Is.
var ErrInvalidPhone = errors.New("not a valid phone number")

type phoneError struct{ raw string }

func (e *phoneError) Error() string        { return fmt.Sprintf("%q is not a valid phone number", e.raw) }
func (e *phoneError) Is(target error) bool { return target == ErrInvalidPhone }

// NormalizePhone returns raw in E.164 form ("+6281337785111"). A number
// without a leading + is read as a national number of region (an ISO
// 3166-1 code such as "ID"): "081337785111" becomes "+6281337785111".
// It fails, with an error matching ErrInvalidPhone, when raw is not a valid
// number (phonenumbers.IsValidNumber). The error quotes raw: mask it
// (bot.Mask) before logging.
func NormalizePhone(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", &phoneError{raw}
	}
	n, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", &phoneError{raw}
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// knownRegion reports whether phonenumbers has metadata for region.
func knownRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(region) != 0
}
