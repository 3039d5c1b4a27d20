/* strip: the futures context line (see strip.h). */
#include "widgets/strip.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/dec.h"
#include "util/err.h"

#define DIGITS "0123456789"

enum { SEG_MARK, SEG_INDEX, SEG_FUNDING, SEG_NEXT, SEG_COUNT };

typedef struct segment {
    const char *label[2]; /* long, short ("" for none) */
    char value[DEC_FMT_MAX + 8];
    role ro;
} segment;

/* One arrangement; the draw takes the first that fits. */
typedef struct strip_layout {
    int labels; /* 0 long, 1 short, 2 none */
    int gap;
    unsigned mask; /* segments shown (1 << SEG_*) */
} strip_layout;

#define ALL_SEGS ((1u << SEG_COUNT) - 1)

static const strip_layout layouts[] = {
    { 0, 2, ALL_SEGS },
    { 0, 1, ALL_SEGS },
    { 1, 1, ALL_SEGS },
    { 1, 1, ALL_SEGS & ~(1u << SEG_INDEX) },
    { 1, 1, 1u << SEG_MARK | 1u << SEG_FUNDING },
    { 2, 1, 1u << SEG_MARK | 1u << SEG_FUNDING },
    { 2, 1, 1u << SEG_MARK },
};

/* The integer digits of rate * 100 into out (leading zeros dropped, at least one digit). */
static size_t shifted_integer(const char *ip, size_t ni, const char *fp, size_t nf, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < ni; i++)
        out[n++] = ip[i];
    for (size_t k = 0; k < 2; k++)
        out[n++] = k < nf ? fp[k] : '0';
    size_t lead = 0;
    while (lead + 1 < n && out[lead] == '0')
        lead++;
    memmove(out, out + lead, n - lead);
    return n - lead;
}

/* The fraction digits of rate * 100: what follows the first two, trailing zeros cut down to 4,
 * padded to 4. */
static size_t shifted_fraction(const char *fp, size_t nf, char *out)
{
    size_t n = nf > 2 ? nf - 2 : 0;
    memcpy(out, fp + (nf > 2 ? 2 : nf), n);
    while (n > 4 && out[n - 1] == '0')
        n--;
    while (n < 4)
        out[n++] = '0';
    return n;
}

static bool all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return false;
    return true;
}

int strip_funding_pct(const char *rate, char *buf, size_t cap)
{
    if (!rate)
        return BF_ESYNTAX;
    const char *p = rate;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    const char *ip = p, *fp = "";
    size_t ni = strspn(p, DIGITS), nf = 0;
    p += ni;
    if (*p == '.') {
        fp = ++p;
        nf = strspn(p, DIGITS);
        p += nf;
        if (nf == 0)
            return BF_ESYNTAX;
    }
    if (ni == 0 || *p != '\0' || ni + nf > DEC_MAX_CHARS)
        return BF_ESYNTAX;
    char ints[DEC_MAX_CHARS + 3], frac[DEC_MAX_CHARS + 5];
    size_t il = shifted_integer(ip, ni, fp, nf, ints);
    size_t fl = shifted_fraction(fp, nf, frac);
    const char *sign = all_zero(ints, il) && all_zero(frac, fl) ? "" : neg ? "-" : "+";
    int n = snprintf(buf, cap, "%s%.*s.%.*s%%", sign, (int)il, ints, (int)fl, frac);
    return n < 0 || (size_t)n >= cap ? BF_ETOOBIG : n;
}

int strip_countdown(int64_t next_ms, int64_t now_ms, char *buf, size_t cap)
{
    if (next_ms == 0)
        return snprintf(buf, cap, "-");
    int64_t left = next_ms > now_ms ? next_ms - now_ms : 0;
    int64_t secs = left / 1000 + (left % 1000 != 0); /* rounded up: 00:00:00 means due */
    return snprintf(buf, cap, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, secs / 3600, secs / 60 % 60,
                    secs % 60);
}

/* A price string at the symbol's decimals, rounded half away from zero in integers ("61790.12345678"
 * -> "61790.12"); the string as written when there is no scale or it does not parse. */
static void price_text(const char *s, const view_symbol *v, char *out, size_t cap)
{
    snprintf(out, cap, "%s", s[0] ? s : "-");
    int d = dec_decimals(s, strlen(s));
    if (!s[0] || !v->has_scale || d < 0 || d > DEC_MAX_DECIMALS)
        return;
    int keep = v->px_scale.decimals;
    dec_scale written = dec_scale_plain((unsigned)d), shown = dec_scale_plain((unsigned)keep);
    int64_t n;
    if (dec_parse(s, strlen(s), &written, &n) < 0)
        return;
    for (int i = d; i < keep; i++)
        if (__builtin_mul_overflow(n, 10, &n))
            return;
    for (int i = d; i > keep; i--) { /* only the first digit dropped decides the rounding */
        int64_t q = n / 10, r = n % 10;
        n = i == keep + 1 && (r >= 5 || r <= -5) ? q + (n < 0 ? -1 : 1) : q;
    }
    dec_format(n, &shown, out, cap);
}

static role funding_role(const char *pct)
{
    return pct[0] == '+' ? ROLE_UP : pct[0] == '-' ? ROLE_DOWN : ROLE_NORMAL;
}

static void fill_segments(segment *s, const view_symbol *v, int64_t now_ms)
{
    static const char *const labels[SEG_COUNT][2] = {
        { "mark", "m" }, { "index", "i" }, { "funding", "f" }, { "next", "in" }
    };
    for (int i = 0; i < SEG_COUNT; i++) {
        s[i].label[0] = labels[i][0];
        s[i].label[1] = labels[i][1];
        snprintf(s[i].value, sizeof s[i].value, "-");
        s[i].ro = ROLE_DIM;
    }
    if (!v)
        return;
    const market_last *l = &v->last;
    price_text(l->mark_price, v, s[SEG_MARK].value, sizeof s[SEG_MARK].value);
    price_text(l->index_price, v, s[SEG_INDEX].value, sizeof s[SEG_INDEX].value);
    s[SEG_MARK].ro = l->mark_price[0] ? ROLE_NORMAL : ROLE_DIM;
    s[SEG_INDEX].ro = l->index_price[0] ? ROLE_NORMAL : ROLE_DIM;
    if (l->funding_rate[0] &&
        strip_funding_pct(l->funding_rate, s[SEG_FUNDING].value, sizeof s[SEG_FUNDING].value) < 0)
        snprintf(s[SEG_FUNDING].value, sizeof s[SEG_FUNDING].value, "?");
    s[SEG_FUNDING].ro = l->funding_rate[0] ? funding_role(s[SEG_FUNDING].value) : ROLE_DIM;
    strip_countdown(l->next_funding_ms, now_ms, s[SEG_NEXT].value, sizeof s[SEG_NEXT].value);
    s[SEG_NEXT].ro = l->next_funding_ms ? ROLE_NORMAL : ROLE_DIM;
    if (v->stream_stale) /* a frozen stream must not look like a quiet market */
        for (int i = 0; i < SEG_COUNT; i++)
            s[i].ro = ROLE_DIM;
}

static const char *seg_label(const segment *s, const strip_layout *l)
{
    return l->labels < 2 ? s->label[l->labels] : "";
}

/* Columns the layout takes; with draw, also draws it from (x, y). */
static int run_layout(canvas *c, rect r, const segment *segs, const strip_layout *l, bool draw)
{
    int x = r.x;
    bool first = true;
    for (int i = 0; i < SEG_COUNT; i++) {
        if (!(l->mask & 1u << i))
            continue;
        x += first ? 0 : l->gap;
        first = false;
        const char *label = seg_label(&segs[i], l);
        if (label[0]) {
            if (draw)
                canvas_put(c, x, r.y, r, ROLE_DIM, label);
            x += canvas_width_of(label) + 1;
        }
        if (draw)
            canvas_put(c, x, r.y, r, segs[i].ro, segs[i].value);
        x += canvas_width_of(segs[i].value);
    }
    return x - r.x;
}

void strip_draw(canvas *c, rect r, const theme *t, const view_symbol *v, int64_t now_ms)
{
    if (rect_empty(r))
        return;
    canvas_clear(c, r, ROLE_NORMAL);
    segment segs[SEG_COUNT];
    fill_segments(segs, v, now_ms);
    size_t n = sizeof layouts / sizeof layouts[0];
    for (size_t i = 0; i < n; i++) {
        if (run_layout(c, r, segs, &layouts[i], false) <= r.w) {
            run_layout(c, r, segs, &layouts[i], true);
            return;
        }
    }
    /* Not even the mark fits: its leading digits and a cut mark. */
    rect narrow = { r.x, r.y, r.w - 1, 1 };
    canvas_put(c, r.x, r.y, narrow, segs[SEG_MARK].ro, segs[SEG_MARK].value);
    canvas_put(c, r.x + r.w - 1, r.y, r, segs[SEG_MARK].ro, t->ellipsis ? t->ellipsis : "~");
}
