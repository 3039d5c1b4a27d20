/*
 * A widely used third-party client against `bfmon sim`: ccxt's binanceusdm (pinned in
 * tests/interop/package.json, installed into the build tree) loads markets and watches an order
 * book over https + wss with the test CA; when the sim goes quiet, ccxt's top of book must equal the
 * sim's own /fapi/v1/depth snapshot and its nonce must have reached the snapshot's lastUpdateId.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ccxt prints [price, amount] as numbers; the snapshot has the exchange's strings. */
static void expect_level(json_t *ours, json_t *snap, const char *side)
{
    cr_assert(json_is_array(ours) && json_array_size(ours) >= 2, "ccxt %s missing", side);
    cr_assert(json_is_array(snap) && json_array_size(snap) == 2, "snapshot %s missing", side);
    double px = json_number_value(json_array_get(ours, 0));
    double qty = json_number_value(json_array_get(ours, 1));
    double spx = strtod(json_string_value(json_array_get(snap, 0)), NULL);
    double sqty = strtod(json_string_value(json_array_get(snap, 1)), NULL);
    cr_expect_eq(px, spx, "%s price: ccxt %.10g, sim %.10g", side, px, spx);
    cr_expect_eq(qty, sqty, "%s qty: ccxt %.10g, sim %.10g", side, qty, sqty);
}

Test(ccxt, watch_order_book_matches_the_sim)
{
    const char *dir = getenv("BF_INTEROP_DIR");
    cr_assert(dir, "BF_INTEROP_DIR is not set (run the tests through meson)");
    tu_sim sim;
    const char *args[] = { "--symbols", "BTCUSDT,ETHUSDT", "--rate", "400", NULL };
    tu_sim_start(&sim, args);

    char script[4096], ca_env[4200];
    snprintf(script, sizeof script, "%s/ccxt_book.mjs", dir);
    char *ca = tu_tls_file("ca.pem");
    snprintf(ca_env, sizeof ca_env, "NODE_EXTRA_CA_CERTS=%s", ca);
    free(ca);
    char *argv[] = { "node", script, sim.rest_tls, sim.ws_tls, "BTCUSDT", "30", NULL };
    char *env[] = { ca_env, NULL };
    tu_proc *node = tu_spawn(argv, env);
    char *line = tu_proc_line(node, 120000);
    int code = tu_proc_stop(node, 0, 10000);
    tu_sim_stop(&sim);
    cr_assert(line, "ccxt printed nothing (exit %d)", code);
    cr_assert_eq(code, 0, "ccxt exit %d: %s", code, line);

    json_error_t jerr;
    json_t *r = json_loads(line, 0, &jerr);
    cr_assert(r, "ccxt output is not JSON: %s", line);
    json_t *snap = json_object_get(r, "snapshot");
    json_int_t nonce = json_integer_value(json_object_get(r, "nonce"));
    json_int_t last = json_integer_value(json_object_get(snap, "lastUpdateId"));
    cr_expect_eq(nonce, last, "ccxt nonce %lld, sim lastUpdateId %lld", (long long)nonce,
                 (long long)last);
    expect_level(json_object_get(r, "bid"), json_object_get(snap, "bid"), "bid");
    expect_level(json_object_get(r, "ask"), json_object_get(snap, "ask"), "ask");
    cr_expect_eq(json_integer_value(json_object_get(r, "bids")),
                 json_integer_value(json_object_get(snap, "bids")), "bid level count");
    cr_expect_eq(json_integer_value(json_object_get(r, "asks")),
                 json_integer_value(json_object_get(snap, "asks")), "ask level count");
    json_decref(r);
    free(line);
}
