// What went wrong, as one line: for the CLI's messages and the runners' logs.

/** The reason of a failed fetch or spawn (Node wraps socket errors: `fetch failed` with a cause). */
export function errorCode(err: unknown): string {
  const e = err as {
    cause?: { code?: string; errors?: { code?: string }[]; message?: string };
    code?: string;
  };
  return e?.cause?.code ?? e?.cause?.errors?.[0]?.code ?? e?.code ?? e?.cause?.message ?? errorMessage(err);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
