/*
 * base_rbtree: a textbook red-black tree (CLRS, with a per-tree black sentinel instead of NULL
 * leaves so the fix-ups never special-case a missing child). Left/right mirror cases share one body
 * through child[dir]: dir 0 is left, 1 is right.
 */
#include "base_rbtree.h"

#include "util/xalloc.h"

#include <stdlib.h>

typedef struct rbnode {
    struct rbnode *child[2];
    struct rbnode *parent;
    int64_t px, qty;
    bool red;
} rbnode;

typedef struct rbtree {
    rbnode *root;
    rbnode nil; /* black; its parent is scratch space for the delete fix-up */
    size_t count;
} rbtree;

struct rbbook {
    rbtree side[2];
};

static void tree_init(rbtree *t)
{
    t->nil = (rbnode){ .child = { &t->nil, &t->nil }, .parent = &t->nil, .red = false };
    t->root = &t->nil;
    t->count = 0;
}

rbbook *rbbook_create(void)
{
    rbbook *b = xmalloc(sizeof *b);
    tree_init(&b->side[0]);
    tree_init(&b->side[1]);
    return b;
}

static void free_subtree(rbtree *t, rbnode *n)
{
    while (n != &t->nil) {
        free_subtree(t, n->child[0]);
        rbnode *right = n->child[1];
        free(n);
        n = right;
    }
}

void rbbook_clear(rbbook *b)
{
    for (int s = 0; s < 2; s++) {
        free_subtree(&b->side[s], b->side[s].root);
        tree_init(&b->side[s]);
    }
}

void rbbook_destroy(rbbook *b)
{
    if (!b)
        return;
    rbbook_clear(b);
    free(b);
}

/* Put v where u was, as seen from u's parent. */
static void replace_child(rbtree *t, rbnode *u, rbnode *v)
{
    if (u->parent == &t->nil)
        t->root = v;
    else
        u->parent->child[u == u->parent->child[1]] = v;
    v->parent = u->parent;
}

/* dir 0: left rotation (x's right child rises); dir 1: right rotation. */
static void rotate(rbtree *t, rbnode *x, int dir)
{
    rbnode *y = x->child[!dir];
    x->child[!dir] = y->child[dir];
    if (y->child[dir] != &t->nil)
        y->child[dir]->parent = x;
    replace_child(t, x, y);
    y->child[dir] = x;
    x->parent = y;
}

static void insert_fixup(rbtree *t, rbnode *z)
{
    while (z->parent->red) {
        rbnode *p = z->parent, *g = p->parent;
        int d = p == g->child[1];
        rbnode *uncle = g->child[!d];
        if (uncle->red) {
            p->red = uncle->red = false;
            g->red = true;
            z = g;
            continue;
        }
        if (z == p->child[!d]) {
            z = p;
            rotate(t, z, d);
        }
        z->parent->red = false;
        z->parent->parent->red = true;
        rotate(t, z->parent->parent, !d);
    }
    t->root->red = false;
}

static void tree_upsert(rbtree *t, int64_t px, int64_t qty)
{
    rbnode *parent = &t->nil, *x = t->root;
    while (x != &t->nil) {
        if (px == x->px) {
            x->qty = qty;
            return;
        }
        parent = x;
        x = x->child[px > x->px];
    }
    rbnode *z = xmalloc(sizeof *z);
    *z = (rbnode){
        .child = { &t->nil, &t->nil }, .parent = parent, .px = px, .qty = qty, .red = true
    };
    if (parent == &t->nil)
        t->root = z;
    else
        parent->child[px > parent->px] = z;
    t->count++;
    insert_fixup(t, z);
}

static void delete_fixup(rbtree *t, rbnode *x)
{
    while (x != t->root && !x->red) {
        int d = x == x->parent->child[1];
        rbnode *w = x->parent->child[!d];
        if (w->red) {
            w->red = false;
            x->parent->red = true;
            rotate(t, x->parent, d);
            w = x->parent->child[!d];
        }
        if (!w->child[0]->red && !w->child[1]->red) {
            w->red = true;
            x = x->parent;
            continue;
        }
        if (!w->child[!d]->red) {
            w->child[d]->red = false;
            w->red = true;
            rotate(t, w, !d);
            w = x->parent->child[!d];
        }
        w->red = x->parent->red;
        x->parent->red = false;
        w->child[!d]->red = false;
        rotate(t, x->parent, d);
        x = t->root;
    }
    x->red = false;
}

static rbnode *subtree_edge(const rbtree *t, rbnode *n, int dir)
{
    while (n->child[dir] != &t->nil)
        n = n->child[dir];
    return n;
}

static void tree_unlink(rbtree *t, rbnode *z)
{
    rbnode *y = z, *x;
    bool removed_red = y->red;
    if (z->child[0] == &t->nil || z->child[1] == &t->nil) {
        x = z->child[z->child[0] == &t->nil];
        replace_child(t, z, x);
    } else {
        y = subtree_edge(t, z->child[1], 0); /* successor */
        removed_red = y->red;
        x = y->child[1];
        if (y->parent == z) {
            x->parent = y;
        } else {
            replace_child(t, y, x);
            y->child[1] = z->child[1];
            y->child[1]->parent = y;
        }
        replace_child(t, z, y);
        y->child[0] = z->child[0];
        y->child[0]->parent = y;
        y->red = z->red;
    }
    if (!removed_red)
        delete_fixup(t, x);
}

static void tree_delete(rbtree *t, int64_t px)
{
    rbnode *x = t->root;
    while (x != &t->nil && x->px != px)
        x = x->child[px > x->px];
    if (x == &t->nil)
        return;
    tree_unlink(t, x);
    t->count--;
    free(x);
}

void rbbook_set(rbbook *b, book_side side, int64_t px, int64_t qty)
{
    rbtree *t = &b->side[side == BOOK_ASK];
    if (qty > 0)
        tree_upsert(t, px, qty);
    else
        tree_delete(t, px);
}

bool rbbook_best(const rbbook *b, book_side side, book_level *out)
{
    const rbtree *t = &b->side[side == BOOK_ASK];
    if (t->root == &t->nil)
        return false;
    /* Bids: the highest price (rightmost); asks: the lowest (leftmost). */
    const rbnode *n = subtree_edge(t, t->root, side == BOOK_BID);
    *out = (book_level){ .px = n->px, .qty = n->qty };
    return true;
}

size_t rbbook_count(const rbbook *b, book_side side)
{
    return b->side[side == BOOK_ASK].count;
}

/* Black height of n's subtree, or -1 when an invariant is broken below n. */
static int check_subtree(const rbtree *t, const rbnode *n, int64_t lo, int64_t hi)
{
    if (n == &t->nil)
        return 1;
    if (n->px <= lo || n->px >= hi)
        return -1;
    if (n->red && (n->child[0]->red || n->child[1]->red))
        return -1;
    int l = check_subtree(t, n->child[0], lo, n->px);
    int r = check_subtree(t, n->child[1], n->px, hi);
    if (l < 0 || l != r)
        return -1;
    return l + !n->red;
}

bool rbbook_valid(const rbbook *b)
{
    for (int s = 0; s < 2; s++) {
        const rbtree *t = &b->side[s];
        if (t->root->red || check_subtree(t, t->root, INT64_MIN, INT64_MAX) < 0)
            return false;
    }
    return true;
}
