// @ts-check
// The first line of the README: publish to /greetings on the server at PUSH_URL
// (default http://127.0.0.1:4000). Run `curl http://localhost:4000/greetings` first to see it arrive.
import { Producer } from 'push-rs'

const id = await new Producer().publish('hi there!').to('/greetings')
console.log(`published message ${id}`)
