// Segment's Node SDK as a shop's server runs it: identify() then track('Order Completed') without an email, for
// CUSTOMERS customers, one event per request (flushAt: 1), pointed at a receiver (RECEIVER_URL, its /v1/batch)
// with one of its SEGMENT_API_KEYS as the write key. Prints one JSON line: what was sent and what failed.
import { Analytics } from '@segment/analytics-node'

const { RECEIVER_URL, WRITE_KEY, CUSTOMERS = '30', RUN = 'node' } = process.env
const customers = Number.parseInt(CUSTOMERS, 10)
const analytics = new Analytics({ writeKey: WRITE_KEY, host: RECEIVER_URL, flushAt: 1, maxRetries: 2 })
const failures = []
let requests = 0
analytics.on('http_request', () => { requests += 1 })
analytics.on('error', (error) => { failures.push(String(error?.reason?.message ?? error?.code ?? error)) })

for (let number = 0; number < customers; number += 1) {
  const userId = `${RUN}-customer-${number}`
  analytics.identify({
    userId,
    traits: { email: `${RUN}.customer${number}@example.com`, firstName: 'Node', lastName: `Customer${number}` },
  })
  analytics.track({
    userId,
    event: 'Order Completed',
    properties: { order_id: `${RUN}-order-${number}`, total: 10 + number, currency: 'EUR',
                  products: [{ product_id: `p-${number}`, sku: `SKU-${number}`, quantity: 1 }] },
  })
}
await analytics.closeAndFlush({ timeout: 60000 })
console.log(JSON.stringify({ customers, events: customers * 2, requests, failures }))
