package redis_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"aduan/bot"
	"aduan/dialog"
	"aduan/internal/seal"
	"aduan/internal/testenv"
	"aduan/store/redis"
	"aduan/store/storetest"
)

const (
	phone = "+6281399990123"
	// story2 goes on where story stops, as a long report does.
	story2 = " Pagi ini saya lihat ibu itu berjalan pincang ke sumur, kakinya dibalut kain dan tangannya " +
		"gemetar waktu menimba air. Anak sulungnya yang kelas lima SD sudah tiga hari tidak masuk sekolah, " +
		"kata gurunya dia takut meninggalkan adik-adiknya sendirian di rumah. Suaminya bekerja sebagai sopir " +
		"oto kol antar kampung dan biasanya pulang sore hari sebelum magrib, lalu minum moke bersama temannya " +
		"di dekat pasar. Beberapa tetangga lain juga pernah mendengar dia mengancam akan membakar rumah kalau " +
		"istrinya melapor ke polisi atau ke keluarga di Ruteng. Ibu itu pernah bilang kepada istri saya bahwa " +
		"dia ingin pulang ke rumah orang tuanya di Mbeling tetapi tidak punya uang untuk ongkos. Kami bisa " +
		"menampung dia dan anak-anaknya beberapa hari, tapi kami juga takut kalau suaminya datang mencari. " +
		"Mohon petugas datang dengan hati-hati dan sebaiknya bersama bidan desa, karena ibu itu percaya pada " +
		"bidan. Nomor ini bisa dihubungi lewat pesan saja, jangan telepon malam hari karena HP sering dipakai " +
		"anak saya."
	// dialogMaxLen is the longest description the flows keep, in runes:
	// dialog.MaxInput.
	dialogMaxLen = 2000
	// story is a long, varied description, as a real one is: repeated
	// text would compress far better than people write.
	story = "Saya mau melaporkan kejadian di rumah tetangga saya di dekat gereja. Sejak bulan Juli suaminya " +
		"sering pulang mabuk lalu memukul istrinya dengan tangan dan kadang dengan kayu. Anak mereka yang " +
		"paling kecil, umur enam tahun, sering menangis di luar rumah sampai malam karena takut masuk. Minggu " +
		"lalu ibu itu datang ke rumah kami dengan muka bengkak dan bibir berdarah, tapi dia tidak mau ke " +
		"puskesmas karena malu dan takut suaminya marah lagi. Kepala dusun sudah tahu tapi bilang itu urusan " +
		"keluarga. Kami sekeluarga khawatir karena kemarin malam kami dengar teriakan keras dan barang pecah. " +
		"Ibu itu bekerja di kebun kopi setiap pagi, jadi petugas bisa bertemu dia di jalan ke kebun sekitar " +
		"jam tujuh. Tolong jangan sebut nama saya kepada suaminya, karena dia kenal keluarga kami dan bisa " +
		"mencari masalah. Kalau perlu saksi lain, ada juga bapak penjual bensin di pertigaan yang pernah " +
		"melihat kejadian itu. Terima kasih atas bantuannya, semoga ibu dan anak-anaknya bisa aman."
)

// reportState is an unfinished case report at its confirmation, with the
// given description.
func reportState(description string) []byte {
	st := dialog.State{Step: "case.confirm", Updated: time.Now().Unix(), Urgent: true,
		Trail: []string{"menu", "case.who", "case.safe", "case.type", "case.kecamatan", "case.place", "case.description"},
		Answers: []dialog.Answer{{Field: "reporter", Value: "witness"}, {Field: "safe", Value: "no"},
			{Field: "violence", Value: "physical,domestic"}, {Field: "kecamatan", Value: "kota-komba"},
			{Field: "place", Value: "Dekat gereja, kampung Watu"}, {Field: "description", Value: description}}}
	b, err := st.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func TestStateIsSealed(t *testing.T) {
	ctx := context.Background()
	c := open(t, redis.Options{})
	key := "sms:" + phone
	ls := acquire(t, c, key)
	ls[0].Save = reportState(story)
	release(t, c, ls...)

	rdb := c.Client()
	names, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != c.StateKey(key) {
		t.Fatalf("keys = %q, want only the state key %q", names, c.StateKey(key))
	}
	raw, err := rdb.Get(ctx, names[0]).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{phone, "81399990123", "tetangga", "Watu", "gereja"} {
		if bytes.Contains(raw, []byte(secret)) || strings.Contains(names[0], secret) {
			t.Errorf("Redis holds %q in clear", secret)
		}
	}
	got := acquire(t, c, key)
	if !bytes.Equal(got[0].State, reportState(story)) {
		t.Errorf("State read back differs from the one saved")
	}
	release(t, c, got...)
}

// TestMemoryPerConversation checks what one conversation costs Redis, as
// Redis itself counts it, key and overhead included: well under 1 KB for a
// typical report, under 1 KB with a 1,000-character description, and
// under 1.5 KB with the longest description the flows keep.
func TestMemoryPerConversation(t *testing.T) {
	ctx := context.Background()
	c := open(t, redis.Options{})
	tests := []struct {
		name  string
		state []byte
		max   int64
	}{
		{"typical report", reportState("Tetangga saya dipukul suaminya setiap malam."), 512},
		{"long description", reportState(story), 1024},
		{"longest description", reportState((story + story2 + story)[:dialogMaxLen]), 1536},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "sms:" + phone
			ls := acquire(t, c, key)
			ls[0].Save = tt.state
			release(t, c, ls...)
			n, err := c.Client().MemoryUsage(ctx, c.StateKey(key)).Result()
			if err != nil {
				t.Fatalf("MEMORY USAGE: %v", err)
			}
			t.Logf("%d-byte state: %d bytes in Redis", len(tt.state), n)
			if n > tt.max {
				t.Errorf("MEMORY USAGE = %d bytes, want at most %d", n, tt.max)
			}
			got := acquire(t, c, key)
			if !bytes.Equal(got[0].State, tt.state) {
				t.Errorf("State read back differs from the one saved")
			}
			release(t, c, got...)
		})
	}
}

func TestNoKeyring(t *testing.T) {
	ctx := context.Background()
	_, err := redis.Open(ctx, testenv.RedisURL(1), redis.Options{})
	if bot.KindOf(err) != bot.Invalid || !strings.Contains(err.Error(), "Keyring") {
		t.Errorf("Open without a keyring: %v (%v), want Invalid naming Options.Keyring", err, bot.KindOf(err))
	}
	m := miniredis.RunT(t)
	c := redis.New(goredis.NewClient(&goredis.Options{Addr: m.Addr()}), redis.Options{})
	t.Cleanup(func() { c.Close() })
	ls := []bot.Lease{{Key: "k"}}
	for name, err := range map[string]error{
		"Acquire": c.Acquire(ctx, ls),
		"Release": c.Release(ctx, []bot.Lease{{Key: "k", Held: true, Save: []byte("x")}}),
	} {
		if bot.KindOf(err) != bot.Invalid {
			t.Errorf("%s without a keyring: KindOf(%v) = %v, want %v", name, err, bot.KindOf(err), bot.Invalid)
		}
	}
	if _, err := c.Hits(ctx, []string{"k"}, time.Minute); bot.KindOf(err) != bot.Invalid {
		t.Errorf("Hits without a keyring: KindOf(%v) = %v, want %v", err, bot.KindOf(err), bot.Invalid)
	}
	if keys := m.Keys(); len(keys) != 0 {
		t.Errorf("keys written without a keyring: %q", keys)
	}
}

func TestHits(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	c := redis.New(goredis.NewClient(&goredis.Options{Addr: m.Addr()}), redis.Options{Keyring: keys})
	t.Cleanup(func() { c.Close() })

	steps := []struct {
		keys    []string
		advance time.Duration
		want    []int64
	}{
		{[]string{"sms:" + phone, "global"}, 0, []int64{1, 1}},
		{[]string{"sms:" + phone, "sms:" + phone}, 0, []int64{2, 3}}, // a batch may hold a key twice
		{[]string{"sms:" + phone, "sms:+6281200000000"}, 0, []int64{4, 1}},
		{[]string{"sms:" + phone}, 61 * time.Second, []int64{1}}, // a new window
	}
	for i, st := range steps {
		m.FastForward(st.advance)
		if got, err := c.Hits(ctx, st.keys, time.Minute); err != nil || !slices.Equal(got, st.want) {
			t.Errorf("step %d: Hits(%q) = %v, %v; want %v", i, st.keys, got, err, st.want)
		}
	}
	for _, k := range m.Keys() {
		if strings.Contains(k, "62") {
			t.Errorf("counter key %q holds a number", k)
		}
	}
	// global's window ran out with the fast forward too: it counts afresh.
	if got, err := c.Hits(ctx, []string{"global", "global"}, time.Minute); err != nil || !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("Hits(global, global) = %v, %v; want [1 2]", got, err)
	}
}

func TestHitsRealRedis(t *testing.T) {
	ctx := context.Background()
	c := open(t, redis.Options{Prefix: "r:"})
	if err := c.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Hits(ctx, []string{"a", "b", "a"}, 30*time.Second)
	if err != nil || !slices.Equal(got, []int64{1, 1, 2}) {
		t.Fatalf("Hits = %v, %v; want [1 1 2]", got, err)
	}
	keys, err := c.Client().Keys(ctx, "r:limit:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("counter keys = %q, %v; want 2", keys, err)
	}
	for _, k := range keys {
		if ttl := c.Client().PTTL(ctx, k).Val(); ttl <= 0 || ttl > 30*time.Second {
			t.Errorf("counter %s PTTL = %v, want in (0, 30s]", k, ttl)
		}
	}
}

func BenchmarkHits(b *testing.B) {
	c := open(b, redis.Options{})
	ctx := context.Background()
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "sms:+6281337" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Hits(ctx, keys, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
}

// TestStateVersion checks that Release saves the lease's version with the
// state and Acquire reads it back; that a state saved before versions
// existed (the sealed state alone) reads as version 0, and one sealed
// under an old key of the keyring opens; and that a state that does not
// open reads as none, marked Lost, so that the store's checkpoint decides.
func TestStateVersion(t *testing.T) {
	ctx := context.Background()
	keys := storetest.Keyring(t, 2, 1) // key 1 is an old one, still configured
	c := open(t, redis.Options{Keyring: keys})
	key := "sms:" + phone
	ls := acquire(t, c, key)
	if ls[0].Version != 0 || ls[0].Lost || ls[0].State != nil {
		t.Fatalf("new conversation: Version = %d, Lost = %v, State = %q; want 0, false, nil", ls[0].Version, ls[0].Lost, ls[0].State)
	}
	ls[0].Save, ls[0].Version = reportState(story), 300
	release(t, c, ls...)
	got := acquire(t, c, key)
	if got[0].Version != 300 || got[0].Lost || !bytes.Equal(got[0].State, reportState(story)) {
		t.Errorf("read back: Version = %d, Lost = %v, state equal = %v; want 300, false, true",
			got[0].Version, got[0].Lost, bytes.Equal(got[0].State, reportState(story)))
	}
	release(t, c, got...)

	tests := []struct {
		name        string
		stored      []byte
		wantState   []byte
		wantVersion int64
		wantLost    bool
	}{
		{"saved before versions", keys.AppendState(nil, new(seal.StateBuf), key, []byte("lama")), []byte("lama"), 0, false},
		{"sealed under the old key", storetest.Keyring(t, 1).AppendState([]byte{'v', 3}, new(seal.StateBuf), key, []byte("keadaan")),
			[]byte("keadaan"), 3, false},
		{"sealed for another conversation", keys.AppendState([]byte{'v', 7}, new(seal.StateBuf), "sms:+6281200000000", []byte("x")), nil, 7, true},
		{"sealed under a key no longer configured", seal.Random().AppendState([]byte{'v', 2}, new(seal.StateBuf), key, []byte("x")), nil, 2, true},
		{"garbage", []byte("v\xff"), nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Client().Set(ctx, c.StateKey(key), tt.stored, 0).Err(); err != nil {
				t.Fatal(err)
			}
			ls := acquire(t, c, key)
			if !ls[0].Held || !bytes.Equal(ls[0].State, tt.wantState) || ls[0].Version != tt.wantVersion || ls[0].Lost != tt.wantLost {
				t.Errorf("Held = %v, State = %q, Version = %d, Lost = %v; want true, %q, %d, %v",
					ls[0].Held, ls[0].State, ls[0].Version, ls[0].Lost, tt.wantState, tt.wantVersion, tt.wantLost)
			}
			release(t, c, ls...)
		})
	}
}

// TestTake checks the global budget: at most limit units in any window,
// shared by two replicas, granted up to what fits, and sliding rather
// than fixed.
func TestTake(t *testing.T) {
	ctx := context.Background()
	a, b := open(t, redis.Options{}), open(t, redis.Options{})
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		c    *redis.Conversations
		n    int
		at   time.Duration
		want int
	}{
		{a, 3, 0, 3},
		{b, 3, 100 * time.Millisecond, 2}, // the other replica gets what is left
		{a, 1, 200 * time.Millisecond, 0},
		{b, 2, 999 * time.Millisecond, 0},                   // still within a second of the first
		{a, 4, 1000*time.Millisecond + time.Microsecond, 3}, // the first three left the window
		{b, 4, 1100*time.Millisecond + time.Microsecond, 2},
	}
	for i, st := range steps {
		got, err := st.c.Take(ctx, "global", st.n, 5, time.Second, t0.Add(st.at))
		if err != nil || got != st.want {
			t.Errorf("step %d: Take(%d) at %v = %d, %v; want %d", i, st.n, st.at, got, err, st.want)
		}
	}
}
