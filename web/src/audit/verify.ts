// Checking a checkpoint's Ed25519 signature with WebCrypto, over the exact text the services sign.

/** The signed message: `closeloop-checkpoint/v1\nservice\nsize\nroot\ntime\n` (runtime/checkpoints.py `message`). */
export function checkpointMessage(cp: { service: string; size: number; root: string; time: string }): Uint8Array {
  return new TextEncoder().encode(`closeloop-checkpoint/v1\n${cp.service}\n${cp.size}\n${cp.root}\n${cp.time}\n`)
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

/** true/false when checked; null when this browser has no Ed25519 in WebCrypto. */
export async function signatureValid(cp: { service: string; size: number; root: string; time: string; signature: string }, publicKeyB64: string): Promise<boolean | null> {
  let key: CryptoKey
  try {
    key = await crypto.subtle.importKey('raw', fromBase64(publicKeyB64) as BufferSource, { name: 'Ed25519' }, false, ['verify'])
  } catch {
    return null
  }
  return crypto.subtle.verify({ name: 'Ed25519' }, key, fromBase64(cp.signature) as BufferSource, checkpointMessage(cp) as BufferSource)
}
