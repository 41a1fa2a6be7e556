package bot

import (
	"strconv"
	"strings"
)

// LocationText writes a shared location as a text the dialog can store as
// a place: "Lokasi: -8.612345,120.456789 (Pasar Borong, Jl. Trans Flores)",
// then the sender's comment, if any, on a line of its own. Every channel
// that takes locations writes them so.
func LocationText(lat, lon float64, name, address, comment string) string {
	var b strings.Builder
	b.WriteString("Lokasi: ")
	b.WriteString(strconv.FormatFloat(lat, 'f', 6, 64))
	b.WriteByte(',')
	b.WriteString(strconv.FormatFloat(lon, 'f', 6, 64))
	name, address = strings.TrimSpace(name), strings.TrimSpace(address)
	switch {
	case name != "" && address != "":
		b.WriteString(" (" + name + ", " + address + ")")
	case name != "" || address != "":
		b.WriteString(" (" + name + address + ")")
	}
	if comment = strings.TrimSpace(comment); comment != "" {
		b.WriteString("\n")
		b.WriteString(comment)
	}
	return b.String()
}
