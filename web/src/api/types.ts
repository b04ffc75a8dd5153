// Types of requests and answers, taken from the generated OpenAPI types (src/api/generated/*.ts).
// An answer the OpenAPI leaves untyped (`{[key: string]: unknown}`) is `Untyped` until the services type it;
// after regenerating, the same names become exact and the compiler checks every use.

/** Any object that is only an index signature. */
type IsLoose<T> = string extends keyof T ? true : false

/** A field-level record of an answer that the OpenAPI does not type yet. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Untyped = any

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never

/** The JSON answer (200 or 201) of an operation. */
export type Answer<Op> = Op extends { responses: infer R }
  ? (R extends { 200: infer A } ? Json<A> : R extends { 201: infer A } ? Json<A> : never) extends infer B
    ? B extends object ? (IsLoose<B> extends true ? Untyped : B) : B
    : never
  : never

/** The JSON request body of an operation. */
export type BodyOf<Op> = Op extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never

/** The query parameters of an operation. */
export type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never

/** A cursor page as every list answers it. */
export interface Page<T> {
  items: T[]
  next_cursor: string | null
}
