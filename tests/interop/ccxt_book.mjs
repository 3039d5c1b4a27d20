// ccxt (binanceusdm, pinned in package.json) against bfmon's loopback exchange.
//
//   node ccxt_book.mjs <rest base> <ws base> <symbol, e.g. BTCUSDT> <updates before quiet>
//
// loadMarkets, then watchOrderBook until the given number of updates has arrived; then asks the
// sim to go quiet (POST /sim/quiet), takes the sim's own snapshot and keeps watching until ccxt's
// book has caught up with it (nonce >= lastUpdateId). Prints one JSON line: ccxt's top of book, its
// nonce and the snapshot's top as strings. Exit 0 when that line was printed, 1 on any error.
// TLS: the sim's test CA comes in through NODE_EXTRA_CA_CERTS.
import ccxt from 'ccxt';

const [rest, ws, symbol, wantUpdates] = process.argv.slice(2);
const deadline = Date.now() + 60000;

function fail(msg) {
    console.error('ccxt_book: ' + msg);
    process.exit(1);
}

async function getJson(url, method = 'GET') {
    const res = await fetch(url, { method });
    if (!res.ok) fail(`${method} ${url}: HTTP ${res.status}`);
    return res.json();
}

const ex = new ccxt.pro.binanceusdm({ enableRateLimit: false });
ex.urls['api']['fapiPublic'] = rest + '/fapi/v1';
ex.urls['api']['ws']['future'] = ws + '/ws';

const markets = await ex.loadMarkets().catch((e) => fail('loadMarkets: ' + e));
const market = Object.values(markets).find((m) => m.id === symbol && m.linear);
if (!market) fail(`no linear market for ${symbol} among ${Object.keys(markets).length}`);

let book;
for (let n = 0; n < Number(wantUpdates); n++) {
    if (Date.now() > deadline) fail('no updates');
    book = await ex.watchOrderBook(market.symbol).catch((e) => fail('watchOrderBook: ' + e));
}
await getJson(rest + '/sim/quiet', 'POST');
const snap = await getJson(`${rest}/fapi/v1/depth?symbol=${symbol}&limit=1000`);
while (!(book.nonce >= snap.lastUpdateId)) {
    if (Date.now() > deadline) fail(`book stuck at nonce ${book.nonce} < ${snap.lastUpdateId}`);
    book = await Promise.race([
        ex.watchOrderBook(market.symbol),
        new Promise((resolve) => setTimeout(() => resolve(ex.orderbooks[market.symbol]), 100)),
    ]);
}
console.log(JSON.stringify({
    symbol: market.symbol,
    nonce: book.nonce,
    bid: book.bids[0],
    ask: book.asks[0],
    bids: book.bids.length,
    asks: book.asks.length,
    snapshot: { lastUpdateId: snap.lastUpdateId, bid: snap.bids[0], ask: snap.asks[0],
                bids: snap.bids.length, asks: snap.asks.length },
}));
await ex.close();
process.exit(0);
