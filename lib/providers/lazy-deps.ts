/**
 * Preloaded (`node --require`) into the dynamic-provider process by envctl's launcher, which
 * scripts/setup writes to .toolchain/bin/pulumi-resource-pulumi-nodejs, and into the program's
 * process through the engine's NODE_OPTIONS (lib/core/toolchain.ts). When @pulumi/pulumi's
 * runtime loads, it loads the TypeScript compiler (closure serialization) and npm's Arborist
 * (code paths for function packaging): about 0.6 s on every update, and a provider uses neither,
 * since it only runs code the program already serialized. Those two requires, made by those two
 * modules, get a stand-in that loads the real module on first use. Nothing else is touched, and
 * if @pulumi/pulumi stops making them this does nothing.
 */
import Module from "node:module";

/** Module name -> the @pulumi/pulumi file whose require of it is deferred. */
export const DEFERRED = new Map<string, RegExp>([
  ["typescript", /[\\/]@pulumi[\\/]pulumi[\\/]typescript-shim\.js$/],
  ["@npmcli/arborist", /[\\/]@pulumi[\\/]pulumi[\\/]runtime[\\/]closure[\\/]codePaths\.js$/],
  // The program's run entry loads OpenTelemetry's SDK, exporter and gRPC instrumentation at
  // start (~50 ms) and uses them only when tracing is on (`start`); its spans use the API alone.
  ...[
    "@opentelemetry/resources",
    "@opentelemetry/sdk-trace-base",
    "@opentelemetry/exporter-zipkin",
    "@opentelemetry/instrumentation-grpc",
    "@opentelemetry/sdk-trace-node",
    "@opentelemetry/instrumentation",
  ].map((m): [string, RegExp] => [m, /[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]run[\\/]tracing\.js$/]),
]);

/**
 * An object that behaves like `load()`'s result, calling `load` on the first property access.
 * Until then it claims `__esModule`, so TypeScript's `__importStar` hands it on as is instead of
 * copying (and so loading) every export.
 */
export function deferred(load: () => object): object {
  let real: object | undefined;
  const get = (): object => (real ??= load());
  return new Proxy(
    {},
    {
      get: (_t, key): unknown =>
        key === "__esModule" && real === undefined ? true : (Reflect.get(get(), key) as unknown),
      has: (_t, key) => Reflect.has(get(), key),
      ownKeys: () => Reflect.ownKeys(get()),
      getOwnPropertyDescriptor: (_t, key) => {
        const d = Reflect.getOwnPropertyDescriptor(get(), key);
        // The stand-in's own target is empty: a proxy may only report configurable properties.
        return d && { ...d, configurable: true };
      },
    },
  );
}

type Load = (request: string, parent: { filename?: string } | null, isMain: boolean) => unknown;
const loader = Module as unknown as { _load: Load };
const original = loader._load;
loader._load = function (this: unknown, request, parent, isMain) {
  const from = DEFERRED.get(request);
  if (from && parent?.filename && from.test(parent.filename)) {
    return deferred(() => original.call(this, request, parent, isMain) as object);
  }
  return original.call(this, request, parent, isMain);
};
