/* The RTP core in C: the same Leg and Engine as pycore.py, which is the reference for every
 * behaviour here (tests/sip/test_rtp_core.py runs one suite against both).
 *
 * Why: at 2,000 held callers the media plane handles 200,000 packets a second; in Python each
 * costs about as much in the interpreter as in the kernel (bench/bench_media.py). Here a tick
 * is two loops of system calls over plain structs: epoll_wait/recv for what arrived, sendto
 * for what is owed. Python is entered only for what needs it, returned as a list of notes:
 * a DTMF event, a playlist that ended, a leg's first send or receive error.
 *
 * No threads, no callbacks, no blocking: the sockets are non-blocking and owned by Python
 * (a Leg keeps the descriptor number only while an Engine watches it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_SAMPLES 160
#define MAX_CATCH_UP 3
#define MAX_READS 4
#define MAX_DATAGRAM 2048
#define QUEUE_FRAMES 5
#define PCMU 0
#define PCMA 8

typedef struct {
    Py_ssize_t len;
    uint8_t data[MAX_DATAGRAM];
} Slot;

typedef struct LegObject {
    PyObject_HEAD
    int pt;
    int dtmf_pt;
    uint32_t ssrc;
    uint32_t ts;
    uint16_t seq;
    int send_enabled;
    int talkspurt;
    int closed;
    int fd;          /* while an Engine watches it, else -1 */
    int watched;
    PyObject *remote;
    struct sockaddr_storage addr;
    socklen_t addrlen; /* 0: no address to send to */
    unsigned long long packets_in, packets_out, octets_out, send_errors, receive_errors;
    double last_rx;
    int has_rx;
    int has_rx_ssrc;
    uint32_t rx_ssrc;
    uint16_t rx_base_seq, rx_max_seq;
    unsigned long long rx_cycles, rx_received;
    struct LegObject *peer;
    Slot *queue;     /* QUEUE_FRAMES slots, allocated on the first frame relayed to us */
    int q_head, q_len;
    PyObject *audio; /* bytes while playing */
    Py_ssize_t pos;
    int loop;
    long long last_k;
    Py_ssize_t send_index; /* in the engine's sending array, -1: not sending */
} LegObject;

static PyTypeObject LegType;

/* -- Leg --------------------------------------------------------------------------------- */

static int
set_remote(LegObject *self, PyObject *value)
{
    PyObject *host;
    long port;
    const char *text;
    if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 2) {
        PyErr_SetString(PyExc_TypeError, "remote must be a (host, port) tuple");
        return -1;
    }
    host = PyTuple_GET_ITEM(value, 0);
    if (!PyUnicode_Check(host) || !PyLong_Check(PyTuple_GET_ITEM(value, 1))) {
        PyErr_SetString(PyExc_TypeError, "remote must be a (str, int) tuple");
        return -1;
    }
    port = PyLong_AsLong(PyTuple_GET_ITEM(value, 1));
    if (port == -1 && PyErr_Occurred())
        PyErr_Clear();
    text = PyUnicode_AsUTF8(host);
    if (text == NULL)
        return -1;
    Py_INCREF(value);
    Py_XSETREF(self->remote, value);
    memset(&self->addr, 0, sizeof self->addr);
    self->addrlen = 0; /* not an address we send to: every frame is a send error (pycore) */
    if (port <= 0 || port > 65535)
        return 0;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->addr;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        self->addrlen = sizeof *v4;
    } else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        self->addrlen = sizeof *v6;
    }
    return 0;
}

static int
Leg_init(LegObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"pt", "dtmf_pt", "remote", "ssrc", "seq", "ts", NULL};
    int pt, dtmf_pt;
    PyObject *remote;
    unsigned long long ssrc, seq, ts;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiOKKK", kwlist, &pt, &dtmf_pt, &remote,
                                     &ssrc, &seq, &ts))
        return -1;
    self->pt = pt;
    self->dtmf_pt = dtmf_pt;
    self->ssrc = (uint32_t)ssrc;
    self->seq = (uint16_t)seq;
    self->ts = (uint32_t)ts;
    self->send_enabled = 1;
    self->talkspurt = 1;
    self->fd = -1;
    self->send_index = -1;
    return set_remote(self, remote);
}

static PyObject *
Leg_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    LegObject *self = (LegObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->fd = -1;
        self->send_index = -1;
        self->dtmf_pt = -1;
    }
    return (PyObject *)self;
}

static int
Leg_traverse(LegObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->remote);
    Py_VISIT(self->peer);
    Py_VISIT(self->audio);
    return 0;
}

static int
Leg_clear(LegObject *self)
{
    Py_CLEAR(self->remote);
    Py_CLEAR(self->peer);
    Py_CLEAR(self->audio);
    return 0;
}

static void
Leg_dealloc(LegObject *self)
{
    PyObject_GC_UnTrack(self);
    Leg_clear(self);
    PyMem_Free(self->queue);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void
clear_queue(LegObject *leg)
{
    leg->q_head = leg->q_len = 0;
}

static void
set_peer(LegObject *leg, LegObject *peer)
{
    Py_XINCREF(peer);
    Py_XSETREF(leg->peer, peer);
}

static PyObject *
Leg_play(LegObject *self, PyObject *args)
{
    PyObject *audio;
    int loop;
    if (!PyArg_ParseTuple(args, "Sp", &audio, &loop))
        return NULL;
    Py_INCREF(audio);
    Py_XSETREF(self->audio, audio);
    self->pos = 0;
    self->loop = loop;
    Py_RETURN_NONE;
}

static PyObject *
Leg_stop(LegObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(self->audio);
    Py_RETURN_NONE;
}

static PyObject *
Leg_bridge(LegObject *self, PyObject *other)
{
    if (!PyObject_TypeCheck(other, &LegType)) {
        PyErr_SetString(PyExc_TypeError, "bridge: both legs are Legs of this core");
        return NULL;
    }
    LegObject *o = (LegObject *)other;
    Py_CLEAR(self->audio);
    Py_CLEAR(o->audio);
    clear_queue(self);
    clear_queue(o);
    set_peer(self, o);
    set_peer(o, self);
    Py_RETURN_NONE;
}

static PyObject *
Leg_unbridge(LegObject *self, PyObject *other)
{
    if (!PyObject_TypeCheck(other, &LegType)) {
        PyErr_SetString(PyExc_TypeError, "unbridge: both legs are Legs of this core");
        return NULL;
    }
    LegObject *o = (LegObject *)other;
    if (self->peer == o) {
        set_peer(self, NULL);
        set_peer(o, NULL);
    }
    clear_queue(self);
    clear_queue(o);
    self->talkspurt = o->talkspurt = 1;
    Py_RETURN_NONE;
}

static PyObject *
Leg_shut(LegObject *self, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(self->audio);
    if (self->peer != NULL) {
        set_peer(self->peer, NULL);
        set_peer(self, NULL);
    }
    self->closed = 1;
    Py_RETURN_NONE;
}

static PyObject *
Leg_get_remote(LegObject *self, void *closure)
{
    if (self->remote == NULL)
        Py_RETURN_NONE;
    Py_INCREF(self->remote);
    return self->remote;
}

static int
Leg_set_remote(LegObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "remote cannot be deleted");
        return -1;
    }
    return set_remote(self, value);
}

#define INT_FIELD(name, ctype, mask)                                                          \
    static PyObject *Leg_get_##name(LegObject *self, void *c)                                  \
    {                                                                                          \
        return PyLong_FromLongLong((long long)self->name);                                     \
    }                                                                                          \
    static int Leg_set_##name(LegObject *self, PyObject *value, void *c)                       \
    {                                                                                          \
        long long v;                                                                           \
        if (value == NULL || !PyLong_Check(value)) {                                           \
            PyErr_SetString(PyExc_TypeError, #name " must be an int");                         \
            return -1;                                                                         \
        }                                                                                      \
        v = PyLong_AsLongLong(value);                                                          \
        if (v == -1 && PyErr_Occurred())                                                       \
            return -1;                                                                         \
        self->name = (ctype)(v & (mask));                                                      \
        return 0;                                                                              \
    }

INT_FIELD(pt, int, 0x7F)
INT_FIELD(seq, uint16_t, 0xFFFF)
INT_FIELD(ts, uint32_t, 0xFFFFFFFFLL)

static PyObject *
Leg_get_dtmf_pt(LegObject *self, void *c)
{
    return PyLong_FromLong(self->dtmf_pt);
}

static int
Leg_set_dtmf_pt(LegObject *self, PyObject *value, void *c)
{
    long v;
    if (value == NULL || !PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "dtmf_pt must be an int (-1: none)");
        return -1;
    }
    v = PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    self->dtmf_pt = (v < 0 || v > 127) ? -1 : (int)v;
    return 0;
}

static PyObject *
Leg_get_send_enabled(LegObject *self, void *c)
{
    return PyBool_FromLong(self->send_enabled);
}

static int
Leg_set_send_enabled(LegObject *self, PyObject *value, void *c)
{
    int v = value == NULL ? -1 : PyObject_IsTrue(value);
    if (v < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_AttributeError, "send_enabled cannot be deleted");
        return -1;
    }
    self->send_enabled = v;
    return 0;
}

#define COUNTER(name)                                                                          \
    static PyObject *Leg_get_##name(LegObject *self, void *c)                                  \
    {                                                                                          \
        return PyLong_FromUnsignedLongLong(self->name);                                        \
    }

COUNTER(packets_in)
COUNTER(packets_out)
COUNTER(octets_out)
COUNTER(send_errors)
COUNTER(receive_errors)
COUNTER(rx_cycles)
COUNTER(rx_received)

static PyObject *
Leg_get_ssrc(LegObject *self, void *c)
{
    return PyLong_FromUnsignedLong(self->ssrc);
}

static PyObject *
Leg_get_last_rx(LegObject *self, void *c)
{
    if (!self->has_rx)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->last_rx);
}

static PyObject *
Leg_get_rx_ssrc(LegObject *self, void *c)
{
    if (!self->has_rx_ssrc)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(self->rx_ssrc);
}

static PyObject *
Leg_get_rx_base_seq(LegObject *self, void *c)
{
    return PyLong_FromLong(self->rx_base_seq);
}

static PyObject *
Leg_get_rx_max_seq(LegObject *self, void *c)
{
    return PyLong_FromLong(self->rx_max_seq);
}

static PyObject *
Leg_get_peer(LegObject *self, void *c)
{
    if (self->peer == NULL)
        Py_RETURN_NONE;
    Py_INCREF(self->peer);
    return (PyObject *)self->peer;
}

static PyObject *
Leg_get_playing(LegObject *self, void *c)
{
    return PyBool_FromLong(self->audio != NULL);
}

static PyObject *
Leg_get_queued(LegObject *self, void *c)
{
    return PyLong_FromLong(self->q_len);
}

static PyGetSetDef Leg_getset[] = {
    {"pt", (getter)Leg_get_pt, (setter)Leg_set_pt, "payload type we send", NULL},
    {"dtmf_pt", (getter)Leg_get_dtmf_pt, (setter)Leg_set_dtmf_pt, "telephone-event PT, -1", NULL},
    {"seq", (getter)Leg_get_seq, (setter)Leg_set_seq, "next sequence number", NULL},
    {"ts", (getter)Leg_get_ts, (setter)Leg_set_ts, "next RTP timestamp", NULL},
    {"ssrc", (getter)Leg_get_ssrc, NULL, "our SSRC", NULL},
    {"send_enabled", (getter)Leg_get_send_enabled, (setter)Leg_set_send_enabled, NULL, NULL},
    {"remote", (getter)Leg_get_remote, (setter)Leg_set_remote, "(host, port) we send to", NULL},
    {"packets_in", (getter)Leg_get_packets_in, NULL, NULL, NULL},
    {"packets_out", (getter)Leg_get_packets_out, NULL, NULL, NULL},
    {"octets_out", (getter)Leg_get_octets_out, NULL, NULL, NULL},
    {"send_errors", (getter)Leg_get_send_errors, NULL, NULL, NULL},
    {"receive_errors", (getter)Leg_get_receive_errors, NULL, NULL, NULL},
    {"last_rx", (getter)Leg_get_last_rx, NULL, "time.monotonic() of the last packet", NULL},
    {"rx_ssrc", (getter)Leg_get_rx_ssrc, NULL, NULL, NULL},
    {"rx_base_seq", (getter)Leg_get_rx_base_seq, NULL, NULL, NULL},
    {"rx_max_seq", (getter)Leg_get_rx_max_seq, NULL, NULL, NULL},
    {"rx_cycles", (getter)Leg_get_rx_cycles, NULL, NULL, NULL},
    {"rx_received", (getter)Leg_get_rx_received, NULL, NULL, NULL},
    {"peer", (getter)Leg_get_peer, NULL, "the bridged leg", NULL},
    {"playing", (getter)Leg_get_playing, NULL, NULL, NULL},
    {"queued", (getter)Leg_get_queued, NULL, "frames waiting to be relayed", NULL},
    {NULL},
};

static PyMethodDef Leg_methods[] = {
    {"play", (PyCFunction)Leg_play, METH_VARARGS, "play(audio, loop)"},
    {"stop", (PyCFunction)Leg_stop, METH_NOARGS, "stop playing"},
    {"bridge", (PyCFunction)Leg_bridge, METH_O, "relay both ways with another leg"},
    {"unbridge", (PyCFunction)Leg_unbridge, METH_O, "stop relaying"},
    {"shut", (PyCFunction)Leg_shut, METH_NOARGS, "nothing more is sent or relayed"},
    {NULL},
};

static PyTypeObject LegType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cti.sip.media._core.Leg",
    .tp_doc = "One RTP socket's hot state (see pycore.Leg).",
    .tp_basicsize = sizeof(LegObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Leg_new,
    .tp_init = (initproc)Leg_init,
    .tp_dealloc = (destructor)Leg_dealloc,
    .tp_traverse = (traverseproc)Leg_traverse,
    .tp_clear = (inquiry)Leg_clear,
    .tp_getset = Leg_getset,
    .tp_methods = Leg_methods,
};

/* -- Engine ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    int epfd;
    LegObject **sending;
    Py_ssize_t n_sending, cap_sending;
    Py_ssize_t n_watched;
    struct epoll_event *events;
    int cap_events;
    unsigned long long late_ticks, frames_sent;
    uint8_t u2a[256], a2u[256];
} EngineObject;

static int
Engine_init(EngineObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *tables;
    Py_buffer u2a, a2u;
    if (!PyArg_ParseTuple(args, "O", &tables))
        return -1;
    if (!PyArg_ParseTuple(tables, "y*y*", &u2a, &a2u))
        return -1;
    if (u2a.len != 256 || a2u.len != 256) {
        PyBuffer_Release(&u2a);
        PyBuffer_Release(&a2u);
        PyErr_SetString(PyExc_ValueError, "tables: two 256-byte G.711 translations");
        return -1;
    }
    memcpy(self->u2a, u2a.buf, 256);
    memcpy(self->a2u, a2u.buf, 256);
    PyBuffer_Release(&u2a);
    PyBuffer_Release(&a2u);
    if (self->epfd < 0) {
        self->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (self->epfd < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
    }
    return 0;
}

static PyObject *
Engine_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    EngineObject *self = (EngineObject *)type->tp_alloc(type, 0);
    if (self != NULL)
        self->epfd = -1;
    return (PyObject *)self;
}

static void
Engine_drop_all(EngineObject *self)
{
    for (Py_ssize_t i = 0; i < self->n_sending; i++) {
        LegObject *leg = self->sending[i];
        leg->send_index = -1;
        Py_DECREF(leg);
    }
    self->n_sending = 0;
}

static void
Engine_dealloc(EngineObject *self)
{
    /* Watched legs keep a reference from the epoll set: an engine dropped with legs still
     * watched leaks them (a bug of the caller's, as an unclosed socket would be). */
    Engine_drop_all(self);
    PyMem_Free(self->sending);
    PyMem_Free(self->events);
    if (self->epfd >= 0)
        close(self->epfd);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static LegObject *
as_leg(PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &LegType)) {
        PyErr_SetString(PyExc_TypeError, "expected a Leg of this core");
        return NULL;
    }
    return (LegObject *)obj;
}

static PyObject *
Engine_watch(EngineObject *self, PyObject *args)
{
    PyObject *obj, *sock, *fileno;
    if (!PyArg_ParseTuple(args, "OO", &obj, &sock))
        return NULL;
    LegObject *leg = as_leg(obj);
    if (leg == NULL)
        return NULL;
    if (leg->watched) {
        PyErr_SetString(PyExc_ValueError, "leg is watched already");
        return NULL;
    }
    fileno = PyObject_CallMethod(sock, "fileno", NULL);
    if (fileno == NULL)
        return NULL;
    int fd = (int)PyLong_AsLong(fileno);
    Py_DECREF(fileno);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = leg};
    if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_INCREF(leg); /* the epoll set's reference, until unwatch */
    leg->fd = fd;
    leg->watched = 1;
    self->n_watched++;
    Py_RETURN_NONE;
}

static PyObject *
Engine_unwatch(EngineObject *self, PyObject *args)
{
    PyObject *obj;
    int fd;
    if (!PyArg_ParseTuple(args, "Oi", &obj, &fd))
        return NULL;
    LegObject *leg = as_leg(obj);
    if (leg == NULL)
        return NULL;
    if (leg->watched && leg->fd == fd) {
        epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
        leg->watched = 0;
        leg->fd = -1;
        self->n_watched--;
        Py_DECREF(leg);
    }
    Py_RETURN_NONE;
}

static PyObject *
Engine_add(EngineObject *self, PyObject *args)
{
    PyObject *obj;
    long long k;
    if (!PyArg_ParseTuple(args, "OL", &obj, &k))
        return NULL;
    LegObject *leg = as_leg(obj);
    if (leg == NULL)
        return NULL;
    leg->last_k = k;
    if (leg->send_index >= 0)
        Py_RETURN_NONE;
    if (self->n_sending == self->cap_sending) {
        Py_ssize_t cap = self->cap_sending ? self->cap_sending * 2 : 64;
        LegObject **grown = PyMem_Realloc(self->sending, cap * sizeof *grown);
        if (grown == NULL)
            return PyErr_NoMemory();
        self->sending = grown;
        self->cap_sending = cap;
    }
    Py_INCREF(leg);
    leg->send_index = self->n_sending;
    self->sending[self->n_sending++] = leg;
    Py_RETURN_NONE;
}

static PyObject *
Engine_remove(EngineObject *self, PyObject *obj)
{
    LegObject *leg = as_leg(obj);
    if (leg == NULL)
        return NULL;
    Py_ssize_t i = leg->send_index;
    if (i < 0 || i >= self->n_sending || self->sending[i] != leg)
        Py_RETURN_NONE;
    LegObject *last = self->sending[--self->n_sending];
    self->sending[i] = last;
    last->send_index = i;
    leg->send_index = -1;
    Py_DECREF(leg);
    Py_RETURN_NONE;
}

static PyObject *
Engine_close(EngineObject *self, PyObject *Py_UNUSED(ignored))
{
    Engine_drop_all(self);
    if (self->epfd >= 0) {
        close(self->epfd);
        self->epfd = -1;
    }
    Py_RETURN_NONE;
}

/* A note for Python: the list is made on the first one. -1 on failure (no memory). */
static int
note(PyObject **notes, PyObject *item)
{
    if (item == NULL)
        return -1;
    if (*notes == NULL && (*notes = PyList_New(0)) == NULL) {
        Py_DECREF(item);
        return -1;
    }
    int rc = PyList_Append(*notes, item);
    Py_DECREF(item);
    return rc;
}

static int
packet(EngineObject *self, LegObject *leg, const uint8_t *b, Py_ssize_t n, double now,
       PyObject **notes)
{
    if (n < 12 || (b[0] >> 6) != 2)
        return 0;
    uint16_t seq = (uint16_t)((b[2] << 8) | b[3]);
    uint32_t ts = ((uint32_t)b[4] << 24) | ((uint32_t)b[5] << 16) | ((uint32_t)b[6] << 8) | b[7];
    uint32_t ssrc = ((uint32_t)b[8] << 24) | ((uint32_t)b[9] << 16) | ((uint32_t)b[10] << 8) |
                    b[11];
    leg->packets_in++;
    if (!leg->has_rx_ssrc || leg->rx_ssrc != ssrc) {
        leg->has_rx_ssrc = 1;
        leg->rx_ssrc = ssrc;
        leg->rx_base_seq = leg->rx_max_seq = seq;
        leg->rx_cycles = leg->rx_received = 0;
    } else {
        uint16_t ahead = (uint16_t)(seq - leg->rx_max_seq);
        if (ahead > 0 && ahead < 0x8000) {
            if (seq < leg->rx_max_seq)
                leg->rx_cycles += 0x10000;
            leg->rx_max_seq = seq;
        }
    }
    leg->rx_received++;
    leg->last_rx = now;
    leg->has_rx = 1;
    int pt = b[1] & 0x7F;
    int event = leg->dtmf_pt >= 0 && pt == leg->dtmf_pt;
    LegObject *peer = leg->peer;
    if (!event && peer == NULL)
        return 0; /* audio nobody hears (IVR, hold): counted, not copied */
    Py_ssize_t offset = 12 + 4 * (b[0] & 0x0F);
    if (b[0] & 0x10) { /* header extension */
        if (n < offset + 4)
            return 0;
        offset += 4 + 4 * ((b[offset + 2] << 8) | b[offset + 3]);
    }
    Py_ssize_t end = n;
    if ((b[0] & 0x20) && end > offset) /* padding */
        end -= b[n - 1];
    Py_ssize_t size = end > offset ? end - offset : 0;
    if (event) {
        return note(notes, Py_BuildValue("(sOy#kkO)", "event", (PyObject *)leg,
                                         (const char *)b + (size ? offset : 0), size,
                                         (unsigned long)ssrc, (unsigned long)ts,
                                         (b[1] & 0x80) ? Py_True : Py_False));
    }
    if (!(pt == leg->pt || pt == PCMU || pt == PCMA) || size == 0)
        return 0;
    if (peer->queue == NULL) {
        peer->queue = PyMem_Malloc(QUEUE_FRAMES * sizeof(Slot));
        if (peer->queue == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        peer->q_head = peer->q_len = 0;
    }
    if (peer->q_len == QUEUE_FRAMES) { /* full: the oldest frame goes (a deque's maxlen) */
        peer->q_head = (peer->q_head + 1) % QUEUE_FRAMES;
        peer->q_len--;
    }
    Slot *slot = &peer->queue[(peer->q_head + peer->q_len) % QUEUE_FRAMES];
    slot->len = size;
    const uint8_t *src = b + offset;
    if (pt != peer->pt) { /* G.711 to G.711: a byte for a byte */
        const uint8_t *table = pt == PCMU ? self->u2a : self->a2u;
        for (Py_ssize_t i = 0; i < size; i++)
            slot->data[i] = table[src[i]];
    } else {
        memcpy(slot->data, src, (size_t)size);
    }
    peer->q_len++;
    return 0;
}

static PyObject *
Engine_receive(EngineObject *self, PyObject *arg)
{
    double now = PyFloat_AsDouble(arg);
    if (now == -1.0 && PyErr_Occurred())
        return NULL;
    if (self->n_watched == 0 || self->epfd < 0)
        Py_RETURN_NONE;
    if (self->cap_events < self->n_watched + 1) {
        int cap = (int)(self->n_watched + 1) * 2;
        struct epoll_event *grown = PyMem_Realloc(self->events, cap * sizeof *grown);
        if (grown == NULL)
            return PyErr_NoMemory();
        self->events = grown;
        self->cap_events = cap;
    }
    PyObject *notes = NULL;
    uint8_t buf[MAX_DATAGRAM];
    for (int round = 0; round < MAX_READS; round++) {
        int ready = epoll_wait(self->epfd, self->events, (int)self->n_watched + 1, 0);
        if (ready <= 0)
            break;
        /* Every ready leg is held until the round is done: making a note can run the garbage
         * collector, and a finaliser could unwatch a leg and drop the last reference to it. */
        for (int i = 0; i < ready; i++)
            Py_INCREF((PyObject *)self->events[i].data.ptr);
        int rc = 0;
        for (int i = 0; i < ready && rc == 0; i++) {
            LegObject *leg = self->events[i].data.ptr;
            if (!leg->watched) /* unwatched by a finaliser that ran during this round */
                continue;
            ssize_t got = recv(leg->fd, buf, sizeof buf, 0);
            if (got >= 0) {
                rc = packet(self, leg, buf, got, now, &notes);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                /* an ICMP error of an earlier send, reported here */
                if (++leg->receive_errors == 1)
                    rc = note(&notes, Py_BuildValue("(sOi)", "receive_error", (PyObject *)leg,
                                                    errno));
            }
        }
        for (int i = 0; i < ready; i++)
            Py_DECREF((PyObject *)self->events[i].data.ptr);
        if (rc < 0)
            goto fail;
    }
    if (notes == NULL)
        Py_RETURN_NONE;
    return notes;
fail:
    Py_XDECREF(notes);
    return NULL;
}

static const uint8_t *
silence(int pt)
{
    static uint8_t ulaw[FRAME_SAMPLES], alaw[FRAME_SAMPLES];
    if (ulaw[0] == 0) {
        memset(ulaw, 0xFF, sizeof ulaw);
        memset(alaw, 0xD5, sizeof alaw);
    }
    return pt == PCMA ? alaw : ulaw;
}

/* One frame of ``leg`` (pycore.Leg._send). -1 on failure (no memory). */
static int
send_frame(LegObject *leg, uint8_t *out, PyObject **notes)
{
    const uint8_t *payload = NULL;
    Py_ssize_t size = FRAME_SAMPLES;
    if (leg->peer != NULL) {
        if (leg->q_len > 0) {
            Slot *slot = &leg->queue[leg->q_head];
            payload = slot->data;
            size = slot->len;
            leg->q_head = (leg->q_head + 1) % QUEUE_FRAMES;
            leg->q_len--;
        }
    } else if (leg->audio != NULL) {
        Py_ssize_t len = PyBytes_GET_SIZE(leg->audio);
        if (leg->pos >= len) {
            if (!leg->loop || len == 0) {
                Py_CLEAR(leg->audio);
                if (note(notes, Py_BuildValue("(sO)", "finished", (PyObject *)leg)) < 0)
                    return -1;
            }
            leg->pos = 0;
        }
        if (leg->audio != NULL) {
            payload = (const uint8_t *)PyBytes_AS_STRING(leg->audio) + leg->pos;
            size = len - leg->pos < FRAME_SAMPLES ? len - leg->pos : FRAME_SAMPLES;
            leg->pos += FRAME_SAMPLES;
        }
    }
    if (payload == NULL) {
        payload = silence(leg->pt);
        size = FRAME_SAMPLES;
    }
    if (leg->fd < 0 || leg->closed)
        return 0;
    if (!leg->send_enabled) { /* held: nothing on the wire, the clock still runs */
        leg->ts += (uint32_t)size;
        leg->talkspurt = 1;
        return 0;
    }
    uint16_t seq = leg->seq;
    uint32_t ts = leg->ts;
    out[0] = 0x80;
    out[1] = (uint8_t)(leg->pt | (leg->talkspurt ? 0x80 : 0));
    leg->talkspurt = 0;
    out[2] = seq >> 8;
    out[3] = seq & 0xFF;
    out[4] = ts >> 24;
    out[5] = (ts >> 16) & 0xFF;
    out[6] = (ts >> 8) & 0xFF;
    out[7] = ts & 0xFF;
    out[8] = leg->ssrc >> 24;
    out[9] = (leg->ssrc >> 16) & 0xFF;
    out[10] = (leg->ssrc >> 8) & 0xFF;
    out[11] = leg->ssrc & 0xFF;
    memcpy(out + 12, payload, (size_t)size);
    leg->seq = (uint16_t)(seq + 1);
    leg->ts = ts + (uint32_t)size;
    ssize_t rc;
    int err;
    if (leg->addrlen == 0) {
        rc = -1;
        err = EDESTADDRREQ;
    } else {
        rc = sendto(leg->fd, out, (size_t)(12 + size), 0, (struct sockaddr *)&leg->addr,
                    leg->addrlen);
        err = errno;
    }
    if (rc < 0) { /* a lost frame, never a closed socket: counted, first one noted */
        if (++leg->send_errors == 1)
            return note(notes, Py_BuildValue("(sOi)", "send_error", (PyObject *)leg, err));
        return 0;
    }
    leg->packets_out++;
    leg->octets_out += (unsigned long long)size;
    return 0;
}

static PyObject *
Engine_send(EngineObject *self, PyObject *arg)
{
    long long k = PyLong_AsLongLong(arg);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    PyObject *notes = NULL;
    uint8_t out[12 + MAX_DATAGRAM];
    unsigned long long sent = 0;
    for (Py_ssize_t i = 0; i < self->n_sending; i++) {
        LegObject *leg = self->sending[i];
        long long owed = k - leg->last_k;
        if (owed <= 0) /* added during this tick */
            continue;
        leg->last_k = k;
        if (owed > MAX_CATCH_UP) {
            self->late_ticks++;
            owed = MAX_CATCH_UP;
        }
        Py_INCREF(leg); /* a note can run a finaliser that removes it (see Engine_receive) */
        for (long long j = 0; j < owed; j++) {
            if (send_frame(leg, out, &notes) < 0) {
                Py_DECREF(leg);
                Py_XDECREF(notes);
                self->frames_sent += sent;
                return NULL;
            }
        }
        Py_DECREF(leg);
        sent += (unsigned long long)owed;
    }
    self->frames_sent += sent;
    if (notes == NULL)
        Py_RETURN_NONE;
    return notes;
}

static PyObject *
Engine_get_receiving(EngineObject *self, void *c)
{
    return PyLong_FromSsize_t(self->n_watched);
}

static PyObject *
Engine_get_sending(EngineObject *self, void *c)
{
    return PyLong_FromSsize_t(self->n_sending);
}

static PyObject *
Engine_get_late_ticks(EngineObject *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->late_ticks);
}

static PyObject *
Engine_get_frames_sent(EngineObject *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->frames_sent);
}

static PyGetSetDef Engine_getset[] = {
    {"receiving", (getter)Engine_get_receiving, NULL, "legs whose socket is read", NULL},
    {"sending", (getter)Engine_get_sending, NULL, "legs that are sent frames", NULL},
    {"late_ticks", (getter)Engine_get_late_ticks, NULL, NULL, NULL},
    {"frames_sent", (getter)Engine_get_frames_sent, NULL, NULL, NULL},
    {NULL},
};

static PyMethodDef Engine_methods[] = {
    {"watch", (PyCFunction)Engine_watch, METH_VARARGS, "watch(leg, sock)"},
    {"unwatch", (PyCFunction)Engine_unwatch, METH_VARARGS, "unwatch(leg, fd)"},
    {"add", (PyCFunction)Engine_add, METH_VARARGS, "add(leg, k)"},
    {"remove", (PyCFunction)Engine_remove, METH_O, "remove(leg)"},
    {"receive", (PyCFunction)Engine_receive, METH_O, "receive(now) -> notes or None"},
    {"send", (PyCFunction)Engine_send, METH_O, "send(k) -> notes or None"},
    {"close", (PyCFunction)Engine_close, METH_NOARGS, "close the epoll set"},
    {NULL},
};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cti.sip.media._core.Engine",
    .tp_doc = "Reads every watched leg and sends what the sending legs owe (see pycore).",
    .tp_basicsize = sizeof(EngineObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Engine_new,
    .tp_init = (initproc)Engine_init,
    .tp_dealloc = (destructor)Engine_dealloc,
    .tp_getset = Engine_getset,
    .tp_methods = Engine_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cti.sip.media._core",
    .m_doc = "The RTP core in C (see pycore.py, its reference).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    if (PyType_Ready(&LegType) < 0 || PyType_Ready(&EngineType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Leg", (PyObject *)&LegType) < 0 ||
        PyModule_AddObjectRef(m, "Engine", (PyObject *)&EngineType) < 0 ||
        PyModule_AddIntConstant(m, "FRAME_SAMPLES", FRAME_SAMPLES) < 0 ||
        PyModule_AddIntConstant(m, "MAX_CATCH_UP", MAX_CATCH_UP) < 0 ||
        PyModule_AddIntConstant(m, "MAX_READS", MAX_READS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DATAGRAM", MAX_DATAGRAM) < 0 ||
        PyModule_AddIntConstant(m, "QUEUE_FRAMES", QUEUE_FRAMES) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
