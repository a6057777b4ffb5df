/**
 * The library's contract: every named type in the options and results of an exported function or class (and in
 * the properties of those, recursively) is exported from src/index.ts too, so that a user can name what they pass
 * and what they get back. Read with the TypeScript compiler from the source (seconds of CPU: in the install tier, beside
 * the consumer check, not in test:unit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ts from 'typescript';
import { resolve } from 'node:path';

test('every type in the signatures of the exported functions and classes is exported from src/index.ts', () => {
  const root = resolve(import.meta.dirname, '../..');
  const index = resolve(root, 'src/index.ts');
  const program = ts.createProgram([index], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const mod = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
  const exported = checker.getExportsOfModule(mod);
  const real = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exportedSet = new Set(exported.map(real));
  const fromSrc = (s: ts.Symbol) => (s.declarations ?? []).some((d) => d.getSourceFile().fileName.startsWith(resolve(root, 'src')));
  const missing = new Map<string, string>();
  const seen = new Set<ts.Type>();
  function visitType(t: ts.Type, via: string, depth: number): void {
    if (seen.has(t) || depth > 6) return;
    seen.add(t);
    const named = t.aliasSymbol ?? t.getSymbol();
    if (t.aliasTypeArguments) t.aliasTypeArguments.forEach((a) => visitType(a, via, depth + 1));
    if (t.isUnionOrIntersection()) t.types.forEach((u) => visitType(u, via, depth + 1));
    const ref = t as ts.TypeReference;
    if (ref.typeArguments) checker.getTypeArguments(ref).forEach((a) => visitType(a, via, depth + 1));
    if (named && fromSrc(named) && (named.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class | ts.SymbolFlags.Enum))) {
      if (!exportedSet.has(named)) missing.set(named.getName(), via);
      if (named.flags & ts.SymbolFlags.Interface) for (const p of checker.getPropertiesOfType(t)) {
        const decl = p.valueDeclaration ?? p.declarations?.[0];
        if (decl) visitType(checker.getTypeOfSymbolAtLocation(p, decl), `${via} > ${named.getName()}.${p.getName()}`, depth + 1);
      }
    }
    for (const sig of [...t.getCallSignatures()]) visitSig(sig, via, depth + 1);
  }
  function visitSig(sig: ts.Signature, via: string, depth: number) {
    for (const p of sig.getParameters()) visitType(checker.getTypeOfSymbol(p), `${via}(${p.getName()})`, depth);
    visitType(sig.getReturnType(), `${via} returns`, depth);
  }
  for (const e of exported) {
    const s = real(e);
    if (s.flags & ts.SymbolFlags.Function) for (const sig of checker.getTypeOfSymbol(s).getCallSignatures()) visitSig(sig, e.getName(), 0);
    if (s.flags & ts.SymbolFlags.Class) {
      const ctor = checker.getTypeOfSymbol(s);
      for (const sig of ctor.getConstructSignatures()) visitSig(sig, `new ${e.getName()}`, 0);
      for (const p of checker.getPropertiesOfType(ctor)) if (p.flags & ts.SymbolFlags.Method) for (const sig of checker.getTypeOfSymbol(p).getCallSignatures()) visitSig(sig, `${e.getName()}.${p.getName()}`, 0);
    }
  }

  assert.deepEqual([...missing].map(([name, via]) => `${name} (in ${via})`), [], 'types used by exported functions but not exported from src/index.ts');
});
