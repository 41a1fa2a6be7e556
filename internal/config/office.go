package config

import "strings"

// Office is the office the service belongs to, as its documents name it:
// the monthly report has its name and address at the top and a signature
// block for its head at the bottom.
type Office struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// Place is where the head signs ("Borong, 5 Desember 2026").
	Place string `yaml:"place"`
	// HeadTitle, HeadName and HeadNIP are the head's position, name and
	// NIP (civil servant number) under the signature; an empty name or
	// NIP leaves a line to write it by hand.
	HeadTitle string `yaml:"head_title"`
	HeadName  string `yaml:"head_name"`
	HeadNIP   string `yaml:"head_nip"`
}

// The office's defaults: Dinas Sosial of Kabupaten Manggarai Timur, as its
// published service standard names it.
const (
	DefaultOfficeName      = "Dinas Sosial Kabupaten Manggarai Timur"
	DefaultOfficeAddress   = "Komplek Lehong, Borong 86571, telp. 081883419715"
	DefaultOfficePlace     = "Borong"
	DefaultOfficeHeadTitle = "Kepala Dinas Sosial Kabupaten Manggarai Timur"
)

func defaultOffice() Office {
	return Office{Name: DefaultOfficeName, Address: DefaultOfficeAddress, Place: DefaultOfficePlace,
		HeadTitle: DefaultOfficeHeadTitle}
}

// validate trims the office's keys and checks that a NIP, when given, is
// a civil servant number: 18 digits, spaces allowed between groups.
func (o *Office) validate() error {
	for _, p := range []*string{&o.Name, &o.Address, &o.Place, &o.HeadTitle, &o.HeadName, &o.HeadNIP} {
		*p = strings.TrimSpace(*p)
	}
	if o.Name == "" {
		return bad("office.name", "is empty")
	}
	if o.HeadNIP != "" {
		digits := strings.ReplaceAll(o.HeadNIP, " ", "")
		if len(digits) != 18 || strings.Trim(digits, "0123456789") != "" {
			return bad("office.head_nip", "%q is not a NIP (18 digits)", o.HeadNIP)
		}
	}
	return nil
}
