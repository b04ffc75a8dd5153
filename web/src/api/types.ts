// Types of requests and answers, taken from the generated OpenAPI types (src/api/generated/*.ts).
// Every answer of the services is typed; one left loose (`{[key: string]: unknown}`) becomes `never`, so a
// use of it fails to compile instead of passing unchecked.

/** Any object that is only an index signature. */
type IsLoose<T> = string extends keyof T ? true : false

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never

/** The JSON answer (200 or 201) of an operation. */
export type Answer<Op> = Op extends { responses: infer R }
  ? (R extends { 200: infer A } ? Json<A> : R extends { 201: infer A } ? Json<A> : never) extends infer B
    ? B extends object ? (IsLoose<B> extends true ? never : B) : B
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
