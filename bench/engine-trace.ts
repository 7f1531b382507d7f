/**
 * Where the engine's part of `envctl warm` / `cool` goes, for bench/compose.ts's profile: the
 * same `pulumi up` envctl runs (lib/engine/update.ts), run by the bench with
 * `--otel-traces file://...`, read back as spans. envctl's own `pulumi up` cannot be given the
 * flag, so the profile flips the stack's config (lib/engine/automation.ts ensureConfig, as
 * `envctl warm` does) and runs the update itself; the catalog is left as it was.
 */
import * as fs from "node:fs";

export interface Span {
  /** The process that recorded it: pulumi-cli, pulumi-language-host, ... */
  service: string;
  name: string;
  /** Epoch ms. */
  start: number;
  end: number;
  /** String attributes (Msg payloads joined), for the few spans whose content matters. */
  attrs: Record<string, string>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
}
interface OtlpLine {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: {
      spans?: {
        name: string;
        startTimeUnixNano: string;
        endTimeUnixNano: string;
        attributes?: { key: string; value: OtlpValue }[];
      }[];
    }[];
  }[];
}

const nsToMs = (ns: string): number => Number(BigInt(ns) / 1000n) / 1000;

/** The spans of an OTLP JSON-lines file (what `--otel-traces file://` writes), by start. */
export function readTrace(file: string): Span[] {
  const spans: Span[] = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const doc = JSON.parse(line) as OtlpLine;
    for (const rs of doc.resourceSpans ?? []) {
      const service =
        rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "?";
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const attrs: Record<string, string> = {};
          for (const a of s.attributes ?? []) {
            const v = a.value.stringValue ?? a.value.intValue ?? String(a.value.boolValue ?? "");
            attrs[a.key] = a.key in attrs ? `${attrs[a.key]} ${v}` : v;
          }
          spans.push({
            service,
            name: s.name,
            start: nsToMs(s.startTimeUnixNano),
            end: nsToMs(s.endTimeUnixNano),
            attrs,
          });
        }
      }
    }
  }
  return spans.sort((a, b) => a.start - b.start);
}

/** A resource the program registered: when, and when the engine answered (its step done). */
export interface Registration {
  type: string;
  name: string;
  start: number;
  end: number;
}

/** The program's RegisterResource calls, from the language host's spans (their requests). */
export function registrations(spans: Span[]): Registration[] {
  return spans
    .filter(
      (s) =>
        s.service === "pulumi-language-host" &&
        s.name === "/pulumirpc.ResourceMonitor/RegisterResource",
    )
    .map((s) => {
      const msg = s.attrs.Msg ?? "";
      return {
        type: /type:\\?"([^"\\]+)/.exec(msg)?.[1] ?? "?",
        name: /name:\\?"([^"\\]+)/.exec(msg)?.[1] ?? "?",
        start: s.start,
        end: s.end,
      };
    });
}

/** The engine's milestones in one update, epoch ms (undefined when the trace lacks one). */
export interface EngineMarks {
  /** The CLI's root span: after the Go binary is loaded. */
  cliStart?: number;
  /** The engine asks the language host to run the program. */
  run?: number;
  /** The program's first call back: node and @pulumi/pulumi are loaded. */
  sdkReady?: number;
  /** The program registers the Stack resource... */
  stack?: number;
  /** ...and its first own resource: stacks/ and components/ are loaded, config read. */
  program?: number;
  /** The dynamic-provider plugin: launch requested, and its handshake (node and the SDK loaded). */
  providerLaunch?: number;
  providerReady?: number;
  /** The program exits; the CLI exits (its root span ends). */
  runEnd?: number;
  cliEnd?: number;
  /** Provider calls (Check, Diff, Create, Delete, Update), in order. */
  calls: { method: string; start: number; end: number }[];
  registrations: Registration[];
}

export function engineMarks(spans: Span[]): EngineMarks {
  const cli = (name: string): Span | undefined =>
    spans.find((s) => s.service === "pulumi-cli" && s.name === name);
  const regs = registrations(spans);
  const provider = spans.find(
    (s) => s.service === "pulumi-cli" && s.name === "newPlugin" && s.attrs.kind === "resource",
  );
  return {
    cliStart: cli("pulumi")?.start,
    run: cli("pulumirpc.LanguageRuntime/Run")?.start,
    sdkReady: spans.find(
      (s) =>
        s.service === "pulumi-language-host" && s.name.startsWith("/pulumirpc.ResourceMonitor/"),
    )?.start,
    stack: regs.find((r) => r.type === "pulumi:pulumi:Stack")?.start,
    program: regs.find((r) => r.type !== "pulumi:pulumi:Stack")?.start,
    providerLaunch: provider?.start,
    providerReady: cli("pulumirpc.ResourceProvider/Handshake")?.start,
    runEnd: cli("pulumirpc.LanguageRuntime/Run")?.end,
    cliEnd: cli("pulumi")?.end,
    calls: spans
      .filter(
        (s) =>
          s.service === "pulumi-cli" &&
          /^pulumirpc\.ResourceProvider\/(Check|Diff|Create|Delete|Update)$/.test(s.name),
      )
      .map((s) => ({ method: s.name.split("/")[1]!, start: s.start, end: s.end })),
    registrations: regs,
  };
}
