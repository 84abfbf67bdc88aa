// The quickstart in TypeScript, handling each error by its class.
// Compile and run inside bindings-node (so that `push-rs` resolves to this package):
//   npx tsc examples/typed.mts --strict --module nodenext --rootDir . --outDir .out
//   node .out/examples/typed.mjs
import {
  ConnectionFailedError,
  InvalidChannelError,
  Producer,
  PushError,
  TimeoutError,
  publish,
  type ProducerOptions,
} from 'push-rs'

const options: ProducerOptions = { url: process.env.PUSH_URL, timeoutMs: 5000 }
const producer = new Producer(options)

async function announce(channel: string, text: string): Promise<string | null> {
  try {
    return await producer.publish(text).to(channel)
  } catch (err) {
    if (err instanceof InvalidChannelError) throw new Error(`bug: ${channel} is not a channel`, { cause: err })
    if (err instanceof ConnectionFailedError || err instanceof TimeoutError) {
      console.warn(`push server unavailable (${err.code}), message dropped`)
      return null
    }
    if (err instanceof PushError) console.error(err.code, err.status, err.message)
    throw err
  }
}

const id: string | null = await announce('/greetings', 'hi there!')
const bytes: string = await publish(new TextEncoder().encode('{"n":1}'), { to: '/numbers', contentType: 'application/json' })
console.log(id, bytes, producer.url)
producer.close()
