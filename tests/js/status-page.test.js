// The /status page's arithmetic, without a browser: reading the Prometheus text, rates across a
// restart, and quantiles of a histogram between two scrapes (as PromQL's histogram_quantile).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bucketsOf, describeDuration, parsePrometheus, quantile, ratePerSecond, valueOf } from '../../source/web/status.js';

const text = `# HELP herald_connections WebSocket connections.
# TYPE herald_connections gauge
herald_connections 3
herald_node_info{node="a \\"quoted\\" \\\\ node, with {braces}"} 1
herald_disconnects_total{reason="slow_consumer"} 2
herald_disconnects_total{reason="client_close"} 5
herald_http_requests_total{endpoint="send",code="200"} 7 1700000000000
herald_lag_seconds_bucket{le="0.001"} 4
herald_lag_seconds_bucket{le="0.01"} 8
herald_lag_seconds_bucket{le="+Inf"} 10
herald_lag_seconds_sum 0.5
herald_lag_seconds_count 10
process_start_time_seconds 1764870000.25
`;

test('samples are read with their labels, escapes and all', () => {
  const samples = parsePrometheus(text);
  assert.equal(valueOf(samples, 'herald_connections'), 3);
  assert.equal(valueOf(samples, 'herald_disconnects_total', { reason: 'slow_consumer' }), 2);
  assert.equal(valueOf(samples, 'herald_disconnects_total', { reason: 'client_close' }), 5);
  assert.equal(valueOf(samples, 'herald_http_requests_total', { endpoint: 'send', code: '200' }), 7);
  assert.equal(samples.get('herald_node_info')[0].labels.node, 'a "quoted" \\ node, with {braces}');
  assert.equal(valueOf(samples, 'process_start_time_seconds'), 1764870000.25);
  assert.equal(valueOf(samples, 'herald_users'), undefined);
  assert.deepEqual(bucketsOf(samples, 'herald_lag_seconds'), [
    { le: 0.001, count: 4 },
    { le: 0.01, count: 8 },
    { le: Infinity, count: 10 },
  ]);
});

const near = (actual, expected) => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);

test('quantiles interpolate within their bucket, between two scrapes', () => {
  const now = [
    { le: 0.001, count: 4 },
    { le: 0.01, count: 8 },
    { le: Infinity, count: 10 },
  ];
  near(quantile(0.2, now, null), 0.0005); // rank 2 of the 4 in [0, 1 ms]
  near(quantile(0.6, now, null), 0.001 + 0.009 * 0.5); // rank 6: half-way into (1, 10 ms]
  assert.equal(quantile(0.99, now, null), 0.01); // past the last bound: that bound
  const before = [
    { le: 0.001, count: 4 },
    { le: 0.01, count: 4 },
    { le: Infinity, count: 4 },
  ];
  near(quantile(0.5, now, before), 0.001 + 0.009 * 0.75); // since then: 4 in (1, 10 ms], 2 above
  assert.equal(quantile(0.5, now, now), null); // nothing observed in between
});

test('rates are per second and survive a counter reset', () => {
  assert.equal(ratePerSecond(30, 10, 2), 10);
  assert.equal(ratePerSecond(4, 100, 2), 2); // the server restarted: counted from 0
  assert.equal(ratePerSecond(undefined, 1, 2), null);
  assert.equal(ratePerSecond(3, 1, 0), null);
});

test('durations read as a person would say them', () => {
  assert.equal(describeDuration(42), '42 s');
  assert.equal(describeDuration(600), '10 min');
  assert.equal(describeDuration(3 * 3600), '3 h');
  assert.equal(describeDuration(5 * 86400), '5 days');
});
