/*
 * The per-fragment hot path in one native pass: fold a fragment's characters and walk an
 * Aho-Corasick automaton over them, by character or by sound.
 *
 * Tables and tries are built in Python, once per process or per script (app/engine/normalize.py
 * builds the fold table and character classes, app/engine/native.py the automata). The rules
 * here restate Python's: normalize.py's character-by-character reference path and pyahocorasick
 * are what tests/engine/test_native.py holds each native function to.
 *
 * - Folder(table, classes, digits)(text) -> str | None: the normalized text — folded character
 *   by character (normalize._build_table, as uint32), Chinese digits read as a number, the
 *   filler word 那个 dropped, stutters collapsed, in normalize's order — or None for what only
 *   Python does (a fold to several characters, a character beyond the BMP): Python then takes
 *   its reference path. Either way the text is normalize's reference text.
 * - Automaton(...).scan(text, start, state) -> (state, hits): walk text[start:] from node
 *   ``state`` (0: the root); hits are (index of the last character, value) for every pattern
 *   ending in text[start:]. The state is one int, so a partial that extends the last one goes
 *   on where the last one stopped, and a call keeps nothing else for it. With ``symbols``, each
 *   character is looked up as symbols[code point] (the phonetic key, phonetic.table()).
 * - Tolerant(...): a trie of symbol sequences walked as a nondeterministic automaton, so a
 *   pattern may leave room for characters it does not name: a gap node hanging from a node lets
 *   ``min..max`` characters of anything come before the pattern goes on. Gaps the lexicon asks
 *   for ({0,6}) cost nothing; gaps derived from a phrase's words (a word slipped between them)
 *   share one budget per match. Each character is read as its symbols: with a symbol table, one
 *   or several (a character with two readings is both). Every place in the text starts a match;
 *   a match in progress is a thread (node, start, characters in its gap, budget spent,
 *   characters matched by sound only); hits are (index of the last character, value, index of
 *   the first), only those within the output node's limits (the longest span, the sound-alikes
 *   a whole or a longer match may have): what Python judges (align.align) is what could
 *   stand. No failure links: threads from every start do their work, MAX_THREADS at most.
 * - Cursor(words, sounds).feed(text, start): the words automaton (Aho-Corasick) and the sounds
 *   automaton (Tolerant) at once for one speaker's stream, both states kept in the cursor
 *   (matcher.SpeakerStream); reset() starts again at the roots; shift(n) moves the threads'
 *   starts back by n when the text they index loses its first n characters.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define BMP 0x10000
#define FOLD_DROP 0xFFFFFFFFu
#define FOLD_SEVERAL 0xFFFFFFFEu
/* classes of a folded character, for the rewrites after folding */
#define CLASS_CN_DIGIT 1 /* read as a digit in a run (its digit in Folder.digits) */
#define CLASS_DIGIT 2    /* str.isdigit */
#define CLASS_NA 4  /* 那, the filler word's first character */
#define CLASS_GE 8  /* 个, its second */

/* -- Folder ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    uint32_t table[BMP];
    uint8_t classes[BMP];
    Py_UCS4 digits[BMP]; /* a Chinese digit's ASCII digit, else 0 */
} Folder;

static int
copy_buffer(PyObject *obj, void *dest, Py_ssize_t size, const char *what)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view.len != size) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", what, view.len, size);
        PyBuffer_Release(&view);
        return -1;
    }
    memcpy(dest, view.buf, (size_t)size);
    PyBuffer_Release(&view);
    return 0;
}

static int
Folder_init(Folder *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"table", "classes", "digits", NULL};
    PyObject *table, *classes, *digits;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO", kwlist, &table, &classes, &digits))
        return -1;
    if (copy_buffer(table, self->table, sizeof(self->table), "table") < 0 ||
        copy_buffer(classes, self->classes, sizeof(self->classes), "classes") < 0 ||
        copy_buffer(digits, self->digits, sizeof(self->digits), "digits") < 0)
        return -1;
    for (Py_ssize_t c = 0; c < BMP; c++) {
        if (self->table[c] < FOLD_SEVERAL && self->table[c] >= 0x110000) {
            PyErr_Format(PyExc_ValueError, "table: %zd folds to no character", c);
            return -1;
        }
        if (self->digits[c] >= BMP) {
            PyErr_Format(PyExc_ValueError, "digits: %zd reads as no digit", c);
            return -1;
        }
    }
    return 0;
}

/* Drop each ``unit``-character group that repeats the group kept just before it, unless it
 * holds a digit: normalize._collapse, in place (what is kept is never ahead of what is read). */
static Py_ssize_t
collapse(Py_UCS4 *c, Py_ssize_t n, Py_ssize_t unit, const uint8_t *classes)
{
    Py_ssize_t m = 0, i = 0;
    while (i < n) {
        if (m >= unit && i + unit <= n && memcmp(c + i, c + m - unit, sizeof(Py_UCS4) * unit) == 0) {
            int digit = 0;
            for (Py_ssize_t k = i; k < i + unit; k++)
                digit |= classes[c[k]] & CLASS_DIGIT;
            if (!digit) {
                i += unit;
                continue;
            }
        }
        c[m++] = c[i++];
    }
    return m;
}

/* Runs of Chinese digits read as a number become ASCII digits: a run of two or more, or one
 * beside a digit (normalize._digits). */
static void
read_digits(Py_UCS4 *c, Py_ssize_t n, const Folder *self)
{
    Py_ssize_t i = 0;
    while (i < n) {
        if (!self->digits[c[i]]) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < n && self->digits[c[j]])
            j++;
        if (j - i >= 2 || (i > 0 && (self->classes[c[i - 1]] & CLASS_DIGIT)) ||
            (j < n && (self->classes[c[j]] & CLASS_DIGIT)))
            for (Py_ssize_t k = i; k < j; k++)
                c[k] = self->digits[c[k]];
        i = j;
    }
}

/* Drop every occurrence of the filler word (normalize._drop_words: its two characters are
 * different, so occurrences never overlap). */
static Py_ssize_t
drop_filler(Py_UCS4 *c, Py_ssize_t n, const uint8_t *classes)
{
    Py_ssize_t m = 0, i = 0;
    while (i < n) {
        if (i + 1 < n && (classes[c[i]] & CLASS_NA) && (classes[c[i + 1]] & CLASS_GE)) {
            i += 2;
            continue;
        }
        c[m++] = c[i++];
    }
    return m;
}

/* The normalized text, or None when Python must take its reference path. At most one output
 * character per input character, so the output fits a buffer of the input's length. */
static PyObject *
Folder_call(Folder *self, PyObject *args, PyObject *kwds)
{
    PyObject *text;
    static char *kwlist[] = {"text", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U", kwlist, &text))
        return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 small[64];
    Py_UCS4 *out = n <= 64 ? small : PyMem_Malloc(sizeof(Py_UCS4) * (size_t)n);
    if (out == NULL)
        return PyErr_NoMemory();
    Py_ssize_t m = 0;
    uint8_t seen = 0; /* the classes of every character kept */
    int repeats = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= BMP)
            goto reference;
        uint32_t f = self->table[c];
        if (f == FOLD_DROP)
            continue;
        if (f >= BMP) /* FOLD_SEVERAL, or a fold beyond the BMP */
            goto reference;
        if (m > 0 && (f == out[m - 1] || (m >= 3 && f == out[m - 2] && out[m - 1] == out[m - 3])))
            repeats = 1;
        seen |= self->classes[f];
        out[m++] = f;
    }
    if (seen & CLASS_CN_DIGIT)
        read_digits(out, m, self);
    if ((seen & (CLASS_NA | CLASS_GE)) == (CLASS_NA | CLASS_GE))
        m = drop_filler(out, m, self->classes);
    if (repeats || (seen & (CLASS_NA | CLASS_GE)) == (CLASS_NA | CLASS_GE)) {
        /* (.)\1 or (..)\2 before the rewrites, or one the dropped filler word brought together */
        m = collapse(out, m, 1, self->classes);
        m = collapse(out, m, 2, self->classes);
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, m);
    if (out != small)
        PyMem_Free(out);
    return result;
reference:
    if (out != small)
        PyMem_Free(out);
    Py_RETURN_NONE;
}

static PyTypeObject FolderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "app.engine._scan.Folder",
    .tp_doc = PyDoc_STR("Folder(table, classes)(text) -> folded text, or None: see the module."),
    .tp_basicsize = sizeof(Folder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Folder_init,
    .tp_call = (ternaryfunc)Folder_call,
};

/* -- Edges ------------------------------------------------------------------------------- */

/* A trie's character edges, the goto of both automata: (node << 32 | symbol) -> child, open
 * addressing with linear probing, at most half full. ``keys`` is NULL until the trie is built. */
typedef struct {
    uint64_t *keys; /* EMPTY, or an edge's key */
    int32_t *children;
    uint64_t mask;
    int shift;
} Edges;

#define EMPTY UINT64_MAX

static inline uint64_t
edge_key(int32_t node, uint32_t symbol)
{
    return ((uint64_t)(uint32_t)node << 32) | symbol;
}

static inline uint64_t
edge_slot(const Edges *e, uint64_t key)
{
    return (key * 0x9E3779B97F4A7C15ull) >> e->shift;
}

/* The child of ``node`` by ``symbol``, or -1. */
static inline int32_t
edge_child(const Edges *e, int32_t node, uint32_t symbol)
{
    uint64_t key = edge_key(node, symbol);
    uint64_t i = edge_slot(e, key);
    for (;;) {
        uint64_t k = e->keys[i];
        if (k == key)
            return e->children[i];
        if (k == EMPTY)
            return -1;
        i = (i + 1) & e->mask;
    }
}

static void
edges_free(Edges *e)
{
    PyMem_Free(e->keys);
    PyMem_Free(e->children);
    e->keys = NULL;
    e->children = NULL;
}

/* An empty table with room for the edges of ``nodes`` nodes; 0, or -1 with an error (and
 * nothing allocated). */
static int
edges_alloc(Edges *e, Py_ssize_t nodes)
{
    uint64_t size = 8;
    int bits = 3;
    while (size < (uint64_t)nodes * 2) {
        size <<= 1;
        bits++;
    }
    e->mask = size - 1;
    e->shift = 64 - bits;
    e->keys = PyMem_Malloc(sizeof(uint64_t) * size);
    e->children = PyMem_Malloc(sizeof(int32_t) * size);
    if (e->keys == NULL || e->children == NULL) {
        edges_free(e);
        PyErr_NoMemory();
        return -1;
    }
    memset(e->keys, 0xFF, sizeof(uint64_t) * size);
    return 0;
}

/* Node ``child`` hangs from ``parent`` by ``symbol``; 0, or -1 with an error when ``parent``
 * has that edge already. */
static int
edges_add(Edges *e, int32_t parent, uint32_t symbol, Py_ssize_t child)
{
    uint64_t key = edge_key(parent, symbol);
    uint64_t s = edge_slot(e, key);
    while (e->keys[s] != EMPTY) {
        if (e->keys[s] == key) {
            PyErr_Format(PyExc_ValueError, "node %zd repeats an edge", child);
            return -1;
        }
        s = (s + 1) & e->mask;
    }
    e->keys[s] = key;
    e->children[s] = (int32_t)child;
    return 0;
}

/* -- Automaton --------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Edges edges; /* goto */
    Py_ssize_t nodes;
    int32_t *fail;   /* the longest proper suffix that is a node */
    int32_t *output; /* index into values of the pattern ending at the node, or -1 */
    int32_t *link;   /* the nearest node on the fail chain with an output, or -1 */
    uint32_t *symbols; /* NULL: a character is its own symbol */
    PyObject *values;  /* tuple */
} Automaton;

/* A buffer of ``count`` int32 (or uint32), copied. */
static void *
int_array(PyObject *obj, Py_ssize_t count, const char *what)
{
    void *dest = PyMem_Malloc(sizeof(int32_t) * (size_t)(count > 0 ? count : 1));
    if (dest == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (copy_buffer(obj, dest, (Py_ssize_t)sizeof(int32_t) * count, what) < 0) {
        PyMem_Free(dest);
        return NULL;
    }
    return dest;
}

static int
Automaton_init(Automaton *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"parents", "labels", "fail", "output", "link", "values", "symbols",
                             NULL};
    PyObject *parents, *labels, *fail, *output, *link, *values, *symbols = Py_None;
    if (self->nodes != 0) {
        PyErr_SetString(PyExc_TypeError, "an Automaton is built once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO!|O", kwlist, &parents, &labels, &fail,
                                     &output, &link, &PyTuple_Type, &values, &symbols))
        return -1;
    /* node i > 0 hangs from parents[i] by labels[i]; node 0 is the root */
    Py_ssize_t n = PyObject_Length(fail);
    if (n < 1) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "an automaton has a root");
        return -1;
    }
    self->nodes = n; /* from here on, dealloc frees what was built */
    int32_t *par = int_array(parents, n, "parents");
    uint32_t *lab = par ? int_array(labels, n, "labels") : NULL;
    if (lab == NULL) {
        PyMem_Free(par);
        return -1;
    }
    self->fail = int_array(fail, n, "fail");
    self->output = self->fail ? int_array(output, n, "output") : NULL;
    self->link = self->output ? int_array(link, n, "link") : NULL;
    if (self->link == NULL)
        goto error;
    Py_ssize_t count = PyTuple_GET_SIZE(values);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (self->fail[i] < 0 || self->fail[i] >= n || par[i] < 0 || par[i] >= n ||
            self->link[i] < -1 || self->link[i] >= n || self->output[i] < -1 ||
            self->output[i] >= count) {
            PyErr_Format(PyExc_ValueError, "node %zd refers outside the automaton", i);
            goto error;
        }
    }
    if (symbols != Py_None) {
        self->symbols = int_array(symbols, BMP, "symbols");
        if (self->symbols == NULL)
            goto error;
    }
    if (edges_alloc(&self->edges, n) < 0)
        goto error;
    for (Py_ssize_t i = 1; i < n; i++)
        if (edges_add(&self->edges, par[i], lab[i], i) < 0)
            goto error;
    PyMem_Free(par);
    PyMem_Free(lab);
    Py_INCREF(values);
    self->values = values;
    return 0;
error:
    PyMem_Free(par);
    PyMem_Free(lab);
    edges_free(&self->edges); /* not built: no Cursor takes it, scan refuses */
    return -1; /* the rest of what was allocated is freed by dealloc */
}

static void
Automaton_dealloc(Automaton *self)
{
    edges_free(&self->edges);
    PyMem_Free(self->fail);
    PyMem_Free(self->output);
    PyMem_Free(self->link);
    PyMem_Free(self->symbols);
    Py_XDECREF(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Append ``hit`` (a new reference, or NULL after an error) to the list *hits, made when first
 * needed (most texts hit nothing); 0, or -1 with an error. */
static int
append_hit(PyObject **hits, PyObject *hit)
{
    if (hit == NULL)
        return -1;
    if (*hits == NULL && (*hits = PyList_New(0)) == NULL) {
        Py_DECREF(hit);
        return -1;
    }
    int failed = PyList_Append(*hits, hit);
    Py_DECREF(hit);
    return failed;
}

/* Walk text[start:n] from *state; append (index, value) to *hits (made when first needed). */
static int
walk(const Automaton *self, int kind, const void *data, Py_ssize_t start, Py_ssize_t n,
     int32_t *state, PyObject **hits)
{
    const uint32_t *symbols = self->symbols;
    int32_t node = *state;
    for (Py_ssize_t i = start; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        uint32_t symbol = (symbols != NULL && c < BMP) ? symbols[c] : c;
        for (;;) {
            int32_t child = edge_child(&self->edges, node, symbol);
            if (child >= 0) {
                node = child;
                break;
            }
            if (node == 0)
                break;
            node = self->fail[node];
        }
        int32_t m = self->output[node] >= 0 ? node : self->link[node];
        while (m >= 0) {
            PyObject *value = PyTuple_GET_ITEM(self->values, self->output[m]);
            if (append_hit(hits, Py_BuildValue("(nO)", i, value)) < 0)
                return -1;
            m = self->link[m];
        }
    }
    *state = node;
    return 0;
}

static int
check_text(PyObject *text, PyObject *start_obj, Py_ssize_t *start)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be a str");
        return -1;
    }
    *start = PyLong_AsSsize_t(start_obj);
    if (*start == -1 && PyErr_Occurred())
        return -1;
    if (*start < 0 || *start > PyUnicode_GET_LENGTH(text)) {
        PyErr_SetString(PyExc_ValueError, "start out of range");
        return -1;
    }
    return 0;
}

static PyObject *
Automaton_scan(Automaton *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "scan(text: str, start: int, state: int)");
        return NULL;
    }
    if (self->edges.keys == NULL) {
        PyErr_SetString(PyExc_ValueError, "the automaton was not built");
        return NULL;
    }
    Py_ssize_t start;
    if (check_text(args[0], args[1], &start) < 0)
        return NULL;
    long state = PyLong_AsLong(args[2]);
    if (state == -1 && PyErr_Occurred())
        return NULL;
    if (state < 0 || state >= self->nodes) {
        PyErr_SetString(PyExc_ValueError, "state out of range");
        return NULL;
    }
    PyObject *text = args[0];
    int32_t node = (int32_t)state;
    PyObject *hits = NULL;
    if (walk(self, PyUnicode_KIND(text), PyUnicode_DATA(text), start, PyUnicode_GET_LENGTH(text),
             &node, &hits) < 0) {
        Py_XDECREF(hits);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(iO)", node, hits ? hits : Py_None);
    Py_XDECREF(hits);
    return result;
}

static PyObject *
Automaton_len(Automaton *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(self->nodes);
}

static PyMethodDef Automaton_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))Automaton_scan, METH_FASTCALL,
     PyDoc_STR("scan(text, start, state) -> (state, [(index, value)] or None)")},
    {"nodes", (PyCFunction)Automaton_len, METH_NOARGS, PyDoc_STR("the number of nodes")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "app.engine._scan.Automaton",
    .tp_doc = PyDoc_STR("An Aho-Corasick automaton built in Python (app/engine/native.py)."),
    .tp_basicsize = sizeof(Automaton),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Automaton_init,
    .tp_dealloc = (destructor)Automaton_dealloc,
    .tp_methods = Automaton_methods,
};


/* -- Tolerant ---------------------------------------------------------------------------- */

/* A symbol table entry with this bit is an index into ``alts``: a count, then the symbols. */
#define ALT_FLAG 0x80000000u
/* Matches in progress at once: a thread past this many is dropped (ordinary speech keeps a
 * few; the bound keeps a pathological lexicon from costing more than a fixed amount per
 * character). */
#define MAX_THREADS 64
/* A limit that limits nothing (spans and counts fit in a byte). */
#define ANY 255

typedef struct {
    int32_t node;
    int32_t start;
    uint8_t gap;    /* characters taken in the gap this thread is in (at a gap node) */
    uint8_t spent;  /* characters taken in gaps that count against the budget */
    uint8_t sounds; /* characters matched by sound, not the pattern's own character */
} Thread;

/* A node of a Tolerant automaton: what a step reads of it, together (one cache line, most
 * often, for all that a thread at it needs). */
typedef struct {
    /* its children's symbols, one bit each of 64 (symbol_bit): most threads are at a few
     * shallow nodes, whose records stay in cache, while their children are spread over the
     * goto table; a symbol no child has costs no probe of it */
    uint64_t child_bits;
    int32_t output;    /* index into values, or -1 */
    int32_t gap_child; /* the first gap node hanging from it, or -1 */
    int32_t gap_next;  /* the next gap node of the same parent, or -1 */
    uint32_t chars;    /* the pattern's own character here, or 0: several, or none */
    uint32_t stamp;    /* scratch: a thread of the step being built is at it (== generation) */
    uint8_t slot;      /* ... at this place among the step's threads */
    uint8_t is_gap;
    uint8_t gap_min;
    uint8_t gap_max;
    uint8_t gap_counts;   /* 1: the gap's characters count against the budget */
    uint8_t length;       /* at an output node: the characters its pattern names */
    uint8_t max_span;     /* ... the longest match reported (ANY: no limit) */
    uint8_t whole_sounds; /* ... sound-alikes a match of ``length`` may have */
    uint8_t sounds;       /* ... and a longer one */
} Node;

typedef struct {
    PyObject_HEAD
    Edges edges; /* goto of the character edges (gap nodes hang in lists: Node.gap_child) */
    Py_ssize_t nodes;
    Node *node;
    uint32_t *symbols; /* BMP: a character's symbol, or ALT_FLAG | index into alts; or NULL */
    uint32_t *alts;
    Py_ssize_t n_alts;
    int budget;
    PyObject *values;    /* tuple */
    uint32_t generation; /* of the step being built (walks never run at once: the GIL) */
} Tolerant;

static inline uint64_t
symbol_bit(uint32_t symbol)
{
    return 1ull << ((symbol * 0x9E3779B1u) >> 26);
}

static inline int32_t
tolerant_child(const Tolerant *a, int32_t node, uint32_t symbol)
{
    if (!(a->node[node].child_bits & symbol_bit(symbol)))
        return -1;
    return edge_child(&a->edges, node, symbol);
}

/* A buffer of ``count`` bytes, copied. */
static uint8_t *
byte_array(PyObject *obj, Py_ssize_t count, const char *what)
{
    uint8_t *dest = PyMem_Malloc((size_t)(count > 0 ? count : 1));
    if (dest == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (copy_buffer(obj, dest, count, what) < 0) {
        PyMem_Free(dest);
        return NULL;
    }
    return dest;
}

/* The node records from the arrays Python built (native.tolerant); 0, or -1 with an error. */
static int
fill_nodes(Tolerant *self, Py_ssize_t n, const int32_t *par, PyObject *is_gap, PyObject *gap_min,
           PyObject *gap_max, PyObject *gap_counts, PyObject *output, PyObject *chars,
           PyObject *limits, Py_ssize_t count)
{
    int32_t *out = int_array(output, n, "output");
    uint32_t *own = out ? int_array(chars, n, "chars") : NULL;
    uint8_t *gap = own ? byte_array(is_gap, n, "is_gap") : NULL;
    uint8_t *low = gap ? byte_array(gap_min, n, "gap_min") : NULL;
    uint8_t *high = low ? byte_array(gap_max, n, "gap_max") : NULL;
    uint8_t *counted = high ? byte_array(gap_counts, n, "gap_counts") : NULL;
    uint8_t *lim = counted ? byte_array(limits, 4 * n, "limits") : NULL;
    int ok = lim != NULL;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        if ((i > 0 && (par[i] < 0 || par[i] >= i)) || out[i] < -1 || out[i] >= count ||
            gap[i] > 1 || counted[i] > 1 ||
            (gap[i] && (i == 0 || out[i] >= 0 || gap[par[i]] || par[i] == 0 ||
                        low[i] > high[i] || high[i] == 0))) {
            PyErr_Format(PyExc_ValueError, "node %zd refers outside the automaton or is no node",
                         i);
            ok = 0;
            break;
        }
        Node *node = &self->node[i];
        node->output = out[i];
        node->chars = own[i];
        node->is_gap = gap[i];
        node->gap_min = low[i];
        node->gap_max = high[i];
        node->gap_counts = counted[i];
        node->length = lim[4 * i];
        node->max_span = lim[4 * i + 1];
        node->whole_sounds = lim[4 * i + 2];
        node->sounds = lim[4 * i + 3];
        node->gap_child = node->gap_next = -1;
    }
    PyMem_Free(out);
    PyMem_Free(own);
    PyMem_Free(gap);
    PyMem_Free(low);
    PyMem_Free(high);
    PyMem_Free(counted);
    PyMem_Free(lim);
    return ok ? 0 : -1;
}

static int
Tolerant_init(Tolerant *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"parents", "labels", "is_gap", "gap_min", "gap_max", "gap_counts",
                             "output", "values", "chars", "limits", "symbols", "alts",
                             "budget", NULL};
    PyObject *parents, *labels, *is_gap, *gap_min, *gap_max, *gap_counts, *output, *values;
    PyObject *chars, *limits, *symbols = Py_None, *alts = Py_None;
    int budget = 0;
    if (self->nodes != 0) {
        PyErr_SetString(PyExc_TypeError, "a Tolerant automaton is built once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOO!OO|OOi", kwlist, &parents, &labels,
                                     &is_gap, &gap_min, &gap_max, &gap_counts, &output,
                                     &PyTuple_Type, &values, &chars, &limits, &symbols, &alts,
                                     &budget))
        return -1;
    if (budget < 0 || budget > 255) {
        PyErr_SetString(PyExc_ValueError, "budget: 0 to 255");
        return -1;
    }
    Py_ssize_t n = PyObject_Length(output);
    if (n < 1) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "an automaton has a root");
        return -1;
    }
    self->nodes = n; /* from here on, dealloc frees what was built */
    self->budget = budget;
    int32_t *par = int_array(parents, n, "parents");
    uint32_t *lab = par ? int_array(labels, n, "labels") : NULL;
    self->node = lab ? PyMem_Calloc((size_t)n, sizeof(Node)) : NULL;
    if (self->node == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto error;
    }
    if (fill_nodes(self, n, par, is_gap, gap_min, gap_max, gap_counts, output, chars, limits,
                   PyTuple_GET_SIZE(values)) < 0)
        goto error;
    if (symbols != Py_None) {
        self->symbols = int_array(symbols, BMP, "symbols");
        if (self->symbols == NULL)
            goto error;
        if (alts != Py_None) {
            Py_ssize_t size = PyObject_Length(alts);
            if (size < 0)
                goto error;
            self->n_alts = size;
            self->alts = int_array(alts, size, "alts");
            if (self->alts == NULL)
                goto error;
        }
        for (Py_ssize_t c = 0; c < BMP; c++) {
            uint32_t s = self->symbols[c];
            if (s & ALT_FLAG) {
                uint32_t at = s & ~ALT_FLAG;
                if ((Py_ssize_t)at >= self->n_alts || self->alts[at] == 0 ||
                    (Py_ssize_t)(at + self->alts[at]) >= self->n_alts) {
                    PyErr_Format(PyExc_ValueError, "symbols: %zd reads outside alts", c);
                    goto error;
                }
            }
        }
    }
    if (edges_alloc(&self->edges, n) < 0)
        goto error;
    /* gap nodes hang from their parent in a list, in order; character edges go in the hash */
    for (Py_ssize_t i = n - 1; i >= 1; i--) {
        Node *parent = &self->node[par[i]];
        if (self->node[i].is_gap) {
            self->node[i].gap_next = parent->gap_child;
            parent->gap_child = (int32_t)i;
            continue;
        }
        if (lab[i] & ALT_FLAG) {
            PyErr_Format(PyExc_ValueError, "node %zd: a label is a symbol below 2**31", i);
            goto error;
        }
        if (edges_add(&self->edges, par[i], lab[i], i) < 0)
            goto error;
        parent->child_bits |= symbol_bit(lab[i]);
    }
    PyMem_Free(par);
    PyMem_Free(lab);
    Py_INCREF(values);
    self->values = values;
    return 0;
error:
    PyMem_Free(par);
    PyMem_Free(lab);
    edges_free(&self->edges); /* not built: no Cursor takes it */
    return -1; /* the rest of what was allocated is freed by dealloc */
}

static void
Tolerant_dealloc(Tolerant *self)
{
    edges_free(&self->edges);
    PyMem_Free(self->node);
    PyMem_Free(self->symbols);
    PyMem_Free(self->alts);
    Py_XDECREF(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Add a thread to ``out`` (``*m`` of them): one per (node, gap), the latest start kept (the
 * shortest match), then the fewest sound-alikes, then the least budget spent. The node's stamp
 * finds its thread in the step being built without a search (a gap node may have threads of
 * several gap counts: those are searched for from the first). */
static inline void
add_thread(Tolerant *a, Thread *out, int *m, Thread t)
{
    Node *node = &a->node[t.node];
    if (node->stamp == a->generation) {
        for (int k = node->slot; k < *m; k++) {
            Thread *o = &out[k];
            if (o->node == t.node && o->gap == t.gap) {
                if (t.start > o->start ||
                    (t.start == o->start &&
                     (t.sounds < o->sounds || (t.sounds == o->sounds && t.spent < o->spent))))
                    *o = t;
                return;
            }
        }
    } else {
        node->stamp = a->generation;
        node->slot = (uint8_t)*m;
    }
    if (*m < MAX_THREADS)
        out[(*m)++] = t;
}

/* Follow every character edge from ``t``'s node by one of the character ``c``'s symbols; a
 * child whose pattern character is not ``c`` was reached by sound. */
static inline void
step(Tolerant *a, Thread t, Py_UCS4 c, const uint32_t *syms, int ns, Thread *out, int *m)
{
    for (int s = 0; s < ns; s++) {
        int32_t child = tolerant_child(a, t.node, syms[s]);
        if (child < 0)
            continue;
        uint32_t own = a->node[child].chars;
        uint8_t sounds = (uint8_t)(t.sounds + (own != 0 && own != c && t.sounds < ANY));
        add_thread(a, out, m, (Thread){child, t.start, 0, t.spent, sounds});
    }
}

/* Walk text[start:n] with the threads ``live`` (``*count``; ``spare`` as large, for the next
 * step); append (index, value, first index) to *hits (made when first needed) for each match
 * within its output node's limits. */
static int
tolerant_walk(Tolerant *a, int kind, const void *data, Py_ssize_t start, Py_ssize_t n,
              Thread **live, int *count, Thread **spare, PyObject **hits)
{
    Thread *cur = *live, *next = *spare;
    int have = *count;
    for (Py_ssize_t i = start; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        uint32_t one = c;
        const uint32_t *syms = &one;
        int ns = 1;
        if (a->symbols != NULL && c < BMP) {
            uint32_t s = a->symbols[c];
            if (s & ALT_FLAG) {
                const uint32_t *list = a->alts + (s & ~ALT_FLAG);
                ns = (int)list[0];
                syms = list + 1;
            } else {
                one = s;
            }
        }
        int m = 0;
        if (++a->generation == 0) { /* wrapped: no stamp may look current */
            for (Py_ssize_t k = 0; k < a->nodes; k++)
                a->node[k].stamp = 0;
            a->generation = 1;
        }
        for (int k = 0; k < have; k++) {
            Thread t = cur[k];
            const Node *node = &a->node[t.node];
            if (node->is_gap) {
                if (t.gap >= node->gap_min)
                    step(a, t, c, syms, ns, next, &m);
                if (t.gap < node->gap_max && (!node->gap_counts || t.spent < a->budget)) {
                    Thread in = t;
                    in.gap++;
                    in.spent = (uint8_t)(t.spent + node->gap_counts);
                    add_thread(a, next, &m, in);
                }
                continue;
            }
            step(a, t, c, syms, ns, next, &m);
            for (int32_t g = node->gap_child; g >= 0; g = a->node[g].gap_next) {
                const Node *gap = &a->node[g];
                Thread at = t;
                at.node = g;
                if (gap->gap_min == 0)
                    step(a, at, c, syms, ns, next, &m);
                if (!gap->gap_counts || t.spent < a->budget) {
                    at.gap = 1;
                    at.spent = (uint8_t)(t.spent + gap->gap_counts);
                    add_thread(a, next, &m, at);
                }
            }
        }
        step(a, (Thread){0, (int32_t)i, 0, 0, 0}, c, syms, ns, next, &m);
        for (int k = 0; k < m; k++) {
            Thread *t = &next[k];
            const Node *node = &a->node[t->node];
            if (node->output < 0 || t->gap != 0)
                continue;
            Py_ssize_t span = i - t->start + 1;
            if (span > node->max_span ||
                t->sounds > (span == node->length ? node->whole_sounds : node->sounds))
                continue;
            PyObject *value = PyTuple_GET_ITEM(a->values, node->output);
            if (append_hit(hits, Py_BuildValue("(nOi)", i, value, (int)t->start)) < 0)
                return -1;
        }
        Thread *swap = cur;
        cur = next;
        next = swap;
        have = m;
    }
    *live = cur;
    *spare = next;
    *count = have;
    return 0;
}

static PyObject *
Tolerant_len(Tolerant *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(self->nodes);
}

static PyMethodDef Tolerant_methods[] = {
    {"nodes", (PyCFunction)Tolerant_len, METH_NOARGS, PyDoc_STR("the number of nodes")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TolerantType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "app.engine._scan.Tolerant",
    .tp_doc = PyDoc_STR("A trie with gaps walked as an NFA, built in Python (native.py)."),
    .tp_basicsize = sizeof(Tolerant),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tolerant_init,
    .tp_dealloc = (destructor)Tolerant_dealloc,
    .tp_methods = Tolerant_methods,
};

/* -- Cursor ------------------------------------------------------------------------------ */

/* One speaker's place in a pair of automata (by character: Automaton; by sound: Tolerant):
 * each feed goes on where the last one stopped. */
typedef struct {
    PyObject_HEAD
    Automaton *words; /* or NULL */
    Tolerant *sounds; /* or NULL */
    int32_t word_state;
    int thread_count;
    Thread *threads; /* the live threads of ``sounds`` (MAX_THREADS), once something was fed */
    Thread *spare;   /* as large: the next step's */
    Thread *buffers; /* both, one allocation (NULL until the first feed with text) */
} Cursor;

static int
Cursor_init(Cursor *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"words", "sounds", NULL};
    PyObject *words, *sounds;
    if (self->words != NULL || self->sounds != NULL) {
        PyErr_SetString(PyExc_TypeError, "a Cursor is made once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO", kwlist, &words, &sounds))
        return -1;
    if (words != Py_None &&
        (!PyObject_TypeCheck(words, &AutomatonType) || ((Automaton *)words)->edges.keys == NULL)) {
        PyErr_SetString(PyExc_TypeError, "words: a built Automaton (or None)");
        return -1;
    }
    if (sounds != Py_None &&
        (!PyObject_TypeCheck(sounds, &TolerantType) || ((Tolerant *)sounds)->edges.keys == NULL)) {
        PyErr_SetString(PyExc_TypeError, "sounds: a built Tolerant automaton (or None)");
        return -1;
    }
    if (words != Py_None) {
        Py_INCREF(words);
        self->words = (Automaton *)words;
    }
    if (sounds != Py_None) {
        Py_INCREF(sounds);
        self->sounds = (Tolerant *)sounds;
    }
    self->thread_count = 0;
    return 0;
}

static void
Cursor_dealloc(Cursor *self)
{
    Py_XDECREF(self->words);
    Py_XDECREF(self->sounds);
    PyMem_Free(self->buffers);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* feed(text, start) -> None, or (word hits or None, sound hits or None) */
static PyObject *
Cursor_feed(Cursor *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "feed(text: str, start: int)");
        return NULL;
    }
    Py_ssize_t start;
    if (check_text(args[0], args[1], &start) < 0)
        return NULL;
    PyObject *text = args[0];
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *words = NULL, *sounds = NULL;
    if (self->sounds != NULL && self->buffers == NULL && start < n) {
        /* made on the first feed with text: a call's cursors that hear nothing (an idle call,
         * a silent speaker) hold no thread buffers */
        self->buffers = PyMem_Malloc(sizeof(Thread) * 2 * MAX_THREADS);
        if (self->buffers == NULL)
            return PyErr_NoMemory();
        self->threads = self->buffers;
        self->spare = self->buffers + MAX_THREADS;
    }
    if ((self->words != NULL &&
         walk(self->words, kind, data, start, n, &self->word_state, &words) < 0) ||
        (self->sounds != NULL && start < n &&
         tolerant_walk(self->sounds, kind, data, start, n, &self->threads, &self->thread_count,
                       &self->spare, &sounds) < 0)) {
        Py_XDECREF(words);
        Py_XDECREF(sounds);
        return NULL;
    }
    if (words == NULL && sounds == NULL)
        Py_RETURN_NONE;
    PyObject *result = PyTuple_Pack(2, words ? words : Py_None, sounds ? sounds : Py_None);
    Py_XDECREF(words);
    Py_XDECREF(sounds);
    return result;
}

static PyObject *
Cursor_reset(Cursor *self, PyObject *Py_UNUSED(ignored))
{
    self->word_state = 0;
    self->thread_count = 0;
    Py_RETURN_NONE;
}

/* shift(n): the text the threads index lost its first n characters; a thread begun there
 * is dropped. The words automaton's state is a node, not a place: it stays. */
static PyObject *
Cursor_shift(Cursor *self, PyObject *arg)
{
    Py_ssize_t cut = PyLong_AsSsize_t(arg);
    if (cut == -1 && PyErr_Occurred())
        return NULL;
    if (cut < 0) {
        PyErr_SetString(PyExc_ValueError, "shift by a count of characters");
        return NULL;
    }
    int m = 0;
    for (int k = 0; k < self->thread_count; k++) {
        Thread t = self->threads[k];
        if (t.start >= cut) {
            t.start -= (int32_t)cut;
            self->threads[m++] = t;
        }
    }
    self->thread_count = m;
    Py_RETURN_NONE;
}

static PyObject *
Cursor_live(Cursor *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(self->thread_count);
}

static PyMethodDef Cursor_methods[] = {
    {"feed", (PyCFunction)(void (*)(void))Cursor_feed, METH_FASTCALL,
     PyDoc_STR("feed(text, start) -> None or (word hits, sound hits): walk text[start:]")},
    {"reset", (PyCFunction)Cursor_reset, METH_NOARGS, PyDoc_STR("start again at the roots")},
    {"shift", (PyCFunction)Cursor_shift, METH_O,
     PyDoc_STR("shift(n): the text lost its first n characters")},
    {"live", (PyCFunction)Cursor_live, METH_NOARGS,
     PyDoc_STR("the matches in progress by sound (threads)")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CursorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "app.engine._scan.Cursor",
    .tp_doc = PyDoc_STR("Cursor(words, sounds): a place in two automata, fed piece by piece."),
    .tp_basicsize = sizeof(Cursor),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Cursor_init,
    .tp_dealloc = (destructor)Cursor_dealloc,
    .tp_methods = Cursor_methods,
};

/* -- module ------------------------------------------------------------------------------ */

static struct PyModuleDef scan_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "app.engine._scan",
    .m_doc = PyDoc_STR("Fold and scan a fragment in one native pass (see app/engine/native.py)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    if (PyType_Ready(&FolderType) < 0 || PyType_Ready(&AutomatonType) < 0 ||
        PyType_Ready(&TolerantType) < 0 || PyType_Ready(&CursorType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&scan_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Folder", (PyObject *)&FolderType) < 0 ||
        PyModule_AddObjectRef(module, "Automaton", (PyObject *)&AutomatonType) < 0 ||
        PyModule_AddObjectRef(module, "Tolerant", (PyObject *)&TolerantType) < 0 ||
        PyModule_AddObjectRef(module, "Cursor", (PyObject *)&CursorType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
