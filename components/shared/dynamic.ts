import * as pulumi from "@pulumi/pulumi";
import { providerText } from "./provider-text";

/**
 * A dynamic provider whose serialized form is only a trampoline: each method loads
 * lib/providers from the envctl installation at run time (ENVCTL_ROOT, or the directory the
 * engine runs plugins in: the home's project, whose dist/ links to the installation). Handler
 * code can change without every resource showing a diff. The functions below are serialized
 * into every resource's state (provider-text.ts holds the text): changing them shows up as a
 * diff on every stack.
 */
export function trampoline(kind: string): pulumi.dynamic.ResourceProvider {
  const load = (): Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const p = require("path") as typeof import("path");
    const root = process.env.ENVCTL_ROOT || process.cwd();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(p.join(root, "dist", "lib", "providers", "index.js")) as { handlers: never })
      .handlers;
  };
  // Errors cross the gRPC boundary as plain messages: an error object carrying an `id` would be
  // taken for a partially initialized resource without the provider in its state.
  const call = async <T>(method: string, ...args: unknown[]): Promise<T> => {
    const handler = load()[kind]!;
    const fn = handler[method];
    if (!fn) throw new Error(`${kind} cannot ${method}`);
    try {
      return (await fn(...args)) as T;
    } catch (err) {
      throw new Error(err instanceof Error ? err.message : String(err));
    }
  };
  return {
    create: (inputs) => call<pulumi.dynamic.CreateResult>("create", inputs),
    diff: (id, olds, news) => call<pulumi.dynamic.DiffResult>("diff", id, olds, news),
    update: (id, olds, news) => call<pulumi.dynamic.UpdateResult>("update", id, olds, news),
    delete: (id, props) => call<void>("delete", id, props),
    read: async (id, props) => {
      if (!load()[kind]!.read) return { id, props: props as Record<string, unknown> };
      const res = await call<pulumi.dynamic.ReadResult | undefined>("read", id, props);
      return res ?? { id: undefined as unknown as string, props: {} };
    },
  };
}

/**
 * A real object managed by one of envctl's handlers; `type` becomes
 * `pulumi-nodejs:dynamic/envctl:<type>`. It registers what `pulumi.dynamic.Resource` would
 * (the same type, and `__provider` as the serialized trampoline), with the text precomputed
 * (provider-text.ts) instead of serialized on every run.
 */
export class EnvctlResource extends pulumi.CustomResource {
  constructor(
    type: string,
    kind: string,
    name: string,
    props: pulumi.Inputs,
    opts?: pulumi.CustomResourceOptions,
  ) {
    if ("__provider" in props) throw new Error("a dynamic resource must not define __provider");
    super(
      `pulumi-nodejs:dynamic/envctl:${type}`,
      name,
      { ...props, __provider: providerText(kind) },
      opts,
    );
  }

  /** The output the engine registered for `key` (every key of the props bag gets one). */
  output<T>(key: string): pulumi.Output<T> {
    const value = (this as unknown as Record<string, unknown>)[key];
    if (!pulumi.Output.isInstance(value))
      throw new Error(`${key} is not an output of this resource`);
    return value as pulumi.Output<T>;
  }
}
