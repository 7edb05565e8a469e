package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
)

// A ledger file is a bbolt file. bbolt maps the file into memory and trusts what it
// finds there: a file cut shorter than its pages makes a read fault (SIGBUS), and a
// damaged page can send it out of the mapping, into a panic, or round a cycle of pages
// for ever. So before bbolt reads a page, the file is checked here with plain reads:
//
//   - on every operation (checkMeta): the file is not empty, both meta pages are valid
//     (bbolt would silently fall back to the older one, dropping the last transaction),
//     and the file holds every page they count (a cut after those loses nothing);
//   - when the ledger is opened (checkPages): every page reachable from the meta is
//     a well-formed branch or leaf page inside the file, reached once, not on the
//     freelist, with its elements inside the page, its keys in order and its first key
//     the one its parent names it by; the freelist is well-formed too.
//
// The layout is bbolt's (format version 2), in the machine's byte order:
// https://github.com/etcd-io/bbolt/tree/v1.5.0/internal/common (page.go, meta.go, bucket.go).

const (
	boltMagic   = 0xED0CDAED
	boltVersion = 2

	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	metaSize       = 64 // magic, version, pageSize, flags u32; root, sequence, freelist, pgid, txid, checksum u64
	bucketHeader   = 16 // root pgid u64, sequence u64; an inline bucket's page follows when root is 0

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagFreelist = 0x10
	flagBucket   = 0x01 // of a leaf element: its value is a bucket

	noFreelist = ^uint64(0)
)

const emptyFile = "the file is empty (0 bytes): its spends and cap counters are gone"

var (
	ne         = binary.NativeEndian
	errNotMeta = errors.New("not a bbolt meta page")
)

// boltMeta is a valid meta page.
type boltMeta struct {
	pageSize int64
	root     uint64 // the root bucket's page
	freelist uint64
	pgid     uint64 // high-water mark: pages 0..pgid-1 are in use
	txid     uint64
}

// checkMeta checks the file's size and its two meta pages (see above), and returns the
// meta bbolt uses: the one with the higher txid. A failure is a *DamageError.
func checkMeta(f io.ReaderAt, size int64, path string) (boltMeta, error) {
	if size == 0 {
		return boltMeta{}, &DamageError{Path: path, Detail: emptyFile}
	}
	m0, err := readMeta(f, 0, size)
	if errors.Is(err, errNotMeta) {
		return boltMeta{}, &DamageError{Path: path, Detail: "its first page is not a bbolt meta page: it is not a ledger file, or its start was overwritten"}
	}
	if err != nil {
		return boltMeta{}, &DamageError{Path: path, Detail: "meta page 0: " + err.Error()}
	}
	m1, err := readMeta(f, m0.pageSize, size)
	if err == nil && m1.pageSize != m0.pageSize {
		err = fmt.Errorf("page size %d, meta page 0 says %d", m1.pageSize, m0.pageSize)
	}
	if err != nil {
		return boltMeta{}, &DamageError{Path: path, Detail: "meta page 1: " + err.Error()}
	}
	for i, m := range []boltMeta{m0, m1} {
		if m.pgid > uint64(size) || int64(m.pgid)*m.pageSize > size {
			return boltMeta{}, &DamageError{Path: path, Detail: fmt.Sprintf("the file is %d bytes but meta page %d counts %d pages of %d bytes: it was cut short", size, i, m.pgid, m.pageSize)}
		}
		if m.root < 2 || m.root >= m.pgid || (m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid)) {
			return boltMeta{}, &DamageError{Path: path, Detail: fmt.Sprintf("meta page %d points outside the file's %d pages", i, m.pgid)}
		}
	}
	if m1.txid > m0.txid {
		return m1, nil
	}
	return m0, nil
}

// readMeta reads and validates the meta page at off.
func readMeta(f io.ReaderAt, off, size int64) (boltMeta, error) {
	var b [pageHeaderSize + metaSize]byte
	if off+int64(len(b)) > size {
		return boltMeta{}, fmt.Errorf("missing: the file is %d bytes", size)
	}
	if _, err := f.ReadAt(b[:], off); err != nil {
		return boltMeta{}, err
	}
	m := b[pageHeaderSize:]
	switch {
	case ne.Uint32(m[0:]) != boltMagic:
		return boltMeta{}, errNotMeta
	case ne.Uint32(m[4:]) != boltVersion:
		return boltMeta{}, fmt.Errorf("bbolt format version %d, want %d", ne.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if ne.Uint64(m[56:]) != h.Sum64() {
		return boltMeta{}, fmt.Errorf("checksum does not match")
	}
	ps := int64(ne.Uint32(m[8:]))
	if ps < 1024 || ps > 1<<16 || ps&(ps-1) != 0 {
		return boltMeta{}, fmt.Errorf("page size %d", ps)
	}
	return boltMeta{pageSize: ps, root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, nil
}

// pageWalk checks the page tree of a file whose meta checkMeta accepted. It checks each
// page once, depth first and children in order, with plain reads (no mapping) of
// walkWindow pages at a time: its memory is the keys on its path and one window, not the
// file. Checking in order matters: an append-mostly tree lies mostly in order in the
// file, so one read serves about twenty pages (a million-event ledger of 1 GB is checked
// in about 0.2 s; in reverse order, each page took a read of its own, 1.1 s or more).
type pageWalk struct {
	f     io.ReaderAt // the file
	m     boltMeta
	path  string
	used  []bool // reached, by page id
	freed []bool // on the freelist, by page id
	win   []byte // pages first.. of the file (see pages)
	first uint64
}

// walkItem is a page still to check, with the range its keys must fall in: lo <= key,
// and key < hi unless hi is nil.
type walkItem struct {
	id     uint64
	lo, hi []byte
}

// checkPages checks every page reachable from meta m in f, the file (see above). A
// failure is a *DamageError.
func checkPages(f io.ReaderAt, m boltMeta, path string) error {
	w := &pageWalk{f: f, m: m, path: path, used: make([]bool, m.pgid), freed: make([]bool, m.pgid)}
	w.used[0], w.used[1] = true, true
	if w.m.freelist != noFreelist {
		if err := w.freelist(); err != nil {
			return err
		}
	}
	stack := []walkItem{{id: w.m.root}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		more, err := w.page(it)
		if err != nil {
			return err
		}
		// Children go on in reverse, so that they are checked in order: the pages of an
		// append-mostly tree lie in order in the file, and the reads follow them.
		slices.Reverse(more)
		stack = append(stack, more...)
	}
	return nil
}

func (w *pageWalk) damaged(id uint64, format string, args ...any) error {
	return &DamageError{Path: w.path, Detail: fmt.Sprintf("page %d: ", id) + fmt.Sprintf(format, args...)}
}

// read marks page id and its overflow pages used and returns their bytes, after
// checking its header: in range, reached once, not free, of the kind want (a flag; 0
// for branch or leaf). The bytes are the walk's until its next read.
func (w *pageWalk) read(id uint64, want uint16) ([]byte, error) {
	if id < 2 || id >= w.m.pgid {
		return nil, w.damaged(id, "outside the file's %d pages", w.m.pgid)
	}
	h, err := w.pages(id, 1)
	if err != nil {
		return nil, w.damaged(id, "read: %v", err)
	}
	flags, over := ne.Uint16(h[8:]), uint64(ne.Uint32(h[12:]))
	switch {
	case ne.Uint64(h[0:]) != id:
		return nil, w.damaged(id, "its header says page %d", ne.Uint64(h[0:]))
	case want == 0 && flags != flagBranch && flags != flagLeaf, want != 0 && flags != want:
		return nil, w.damaged(id, "unexpected page kind %#x", flags)
	case over >= w.m.pgid-id:
		return nil, w.damaged(id, "%d overflow pages run past the file's %d pages", over, w.m.pgid)
	}
	for p := id; p <= id+over; p++ {
		if w.used[p] || w.freed[p] {
			return nil, w.damaged(id, "page %d is reached twice, or is also free", p)
		}
		w.used[p] = true
	}
	if over == 0 {
		return h, nil
	}
	b, err := w.pages(id, over+1)
	if err != nil {
		return nil, w.damaged(id, "read: %v", err)
	}
	return b, nil
}

// walkWindow is how many pages the walk reads at once: the tree of an append-mostly
// ledger lies mostly in order in the file, so one read serves the pages that follow, and
// a gigabyte takes thousands of reads instead of a quarter of a million.
const walkWindow = 32

// pages returns the bytes of the n pages from id (all below the meta's pgid), from the
// walk's window of the file, which it moves to start at id when they are not in it. The
// bytes are the walk's until its next call.
func (w *pageWalk) pages(id, n uint64) ([]byte, error) {
	ps := uint64(w.m.pageSize)
	if id < w.first || id+n > w.first+uint64(len(w.win))/ps {
		count := min(max(n, walkWindow), w.m.pgid-id)
		if uint64(cap(w.win)) < count*ps {
			w.win = make([]byte, count*ps)
		}
		w.win = w.win[:count*ps]
		if _, err := w.f.ReadAt(w.win, int64(id*ps)); err != nil {
			w.win = w.win[:0]
			return nil, err
		}
		w.first = id
	}
	off := (id - w.first) * ps
	return w.win[off : off+n*ps], nil
}

// freelist checks the freelist page and marks the pages it lists free.
func (w *pageWalk) freelist() error {
	id := w.m.freelist
	b, err := w.read(id, flagFreelist)
	if err != nil {
		return err
	}
	start, count := pageHeaderSize, uint64(ne.Uint16(b[10:]))
	if count == 0xFFFF { // the count is the first element
		count, start = ne.Uint64(b[start:]), start+8
	}
	if count > uint64(len(b)-start)/8 {
		return w.damaged(id, "freelist of %d pages does not fit its page", count)
	}
	for i := range count {
		p := ne.Uint64(b[start+8*int(i):])
		if p < 2 || p >= w.m.pgid || w.used[p] || w.freed[p] {
			return w.damaged(id, "freelist names page %d, which is out of range or listed twice", p)
		}
		w.freed[p] = true
	}
	return nil
}

// page checks one branch or leaf page and returns the pages it leads to.
func (w *pageWalk) page(it walkItem) ([]walkItem, error) {
	b, err := w.read(it.id, 0)
	if err != nil {
		return nil, err
	}
	if ne.Uint16(b[8:]) == flagBranch {
		return w.branch(it, b)
	}
	return w.leaf(it, b)
}

// elements returns the count of page b's elements after checking that they fit it.
func (w *pageWalk) elements(id uint64, b []byte) (int, error) {
	n := int(ne.Uint16(b[10:]))
	if pageHeaderSize+n*elementSize > len(b) {
		return 0, w.damaged(id, "%d elements do not fit the page", n)
	}
	return n, nil
}

// slice returns b[off:off+n], or an error when that is not inside b.
func (w *pageWalk) slice(id uint64, b []byte, off, n uint64) ([]byte, error) {
	if off > uint64(len(b)) || n > uint64(len(b))-off {
		return nil, w.damaged(id, "an element points outside the page")
	}
	return b[off : off+n], nil
}

// inOrder checks that key comes after prev (when there is one) and before hi; the first
// key of a page its parent names by lo must be lo itself. bbolt relies on that: when it
// writes a page, it finds the page's entry in its parent by the page's first key, and a
// parent whose key differs would get a second entry for the page, not a new key.
func (w *pageWalk) inOrder(id uint64, key, prev, lo, hi []byte, first bool) error {
	if first && lo != nil && !bytes.Equal(key, lo) {
		return w.damaged(id, "its first key is not the key its parent page names it by")
	}
	if (!first && bytes.Compare(key, prev) <= 0) || (hi != nil && bytes.Compare(key, hi) >= 0) {
		return w.damaged(id, "keys out of order")
	}
	return nil
}

func (w *pageWalk) branch(it walkItem, b []byte) ([]walkItem, error) {
	n, err := w.elements(it.id, b)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, w.damaged(it.id, "a branch page with no elements")
	}
	keys, kids := make([][]byte, n), make([]uint64, n)
	for i := range n {
		e := b[pageHeaderSize+i*elementSize:]
		off := uint64(pageHeaderSize + i*elementSize)
		k, err := w.slice(it.id, b, off+uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:])))
		if err != nil {
			return nil, err
		}
		if err := w.inOrder(it.id, k, keys[max(i-1, 0)], it.lo, it.hi, i == 0); err != nil {
			return nil, err
		}
		keys[i], kids[i] = k, ne.Uint64(e[8:])
	}
	// The page's bytes are the walk's until its next read: the keys its children are
	// checked against are copied.
	var all []byte
	for _, k := range keys {
		all = append(all, k...)
	}
	for i, at := 0, 0; i < n; i++ {
		keys[i], at = all[at:at+len(keys[i]):at+len(keys[i])], at+len(keys[i])
	}
	more := make([]walkItem, n)
	for i := range n {
		hi := it.hi
		if i+1 < n {
			hi = keys[i+1]
		}
		more[i] = walkItem{id: kids[i], lo: keys[i], hi: hi}
	}
	return more, nil
}

// leaf checks a leaf page (of the file, or inline in a bucket's value) and returns the
// root pages of the buckets it holds.
func (w *pageWalk) leaf(it walkItem, b []byte) ([]walkItem, error) {
	n, err := w.elements(it.id, b)
	if err != nil {
		return nil, err
	}
	if n == 0 && it.lo != nil {
		return nil, w.damaged(it.id, "a page its parent names holds nothing")
	}
	var prev []byte
	var more []walkItem
	for i := range n {
		e := b[pageHeaderSize+i*elementSize:]
		off := uint64(pageHeaderSize + i*elementSize)
		k, err := w.slice(it.id, b, off+uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])))
		if err != nil {
			return nil, err
		}
		v, err := w.slice(it.id, b, off+uint64(ne.Uint32(e[4:]))+uint64(len(k)), uint64(ne.Uint32(e[12:])))
		if err != nil {
			return nil, err
		}
		if err := w.inOrder(it.id, k, prev, it.lo, it.hi, i == 0); err != nil {
			return nil, err
		}
		prev = k
		if ne.Uint32(e[0:])&flagBucket == 0 {
			continue
		}
		sub, err := w.bucket(it.id, v)
		if err != nil {
			return nil, err
		}
		more = append(more, sub...)
	}
	return more, nil
}

// bucket checks a bucket's value: its root page is checked later, or its inline page now.
func (w *pageWalk) bucket(id uint64, v []byte) ([]walkItem, error) {
	if len(v) < bucketHeader {
		return nil, w.damaged(id, "a bucket value of %d bytes", len(v))
	}
	if root := ne.Uint64(v); root != 0 {
		return []walkItem{{id: root}}, nil
	}
	inline := v[bucketHeader:]
	if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != flagLeaf {
		return nil, w.damaged(id, "an inline bucket that is not a leaf page")
	}
	sub, err := w.leaf(walkItem{id: id}, inline)
	if err == nil && len(sub) > 0 {
		err = w.damaged(id, "an inline bucket that holds buckets")
	}
	return nil, err
}
