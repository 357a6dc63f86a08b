/// <reference types="vite/client" />
/** Every Convex module (functions, schema, _generated), loaded lazily, keyed by path: what convexTest needs. */
export const modules = import.meta.glob("../convex/**/*.*s");
