/**
 * Writes docs/reference/commands.md from the commander definitions (src/cli/program.ts): every command, argument
 * and flag with its default, and the text a command adds under its --help, so that the reference cannot drift from
 * what pgdrill accepts. `npm run schema` runs it; test/unit/schema.test.ts fails when the checked-in file is not current.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { silentLogger } from '../src/logger.js';

/** Text for a table cell or a paragraph: pipes escaped, `<file>` shown as text, not read as an HTML tag. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ');
}

function defaultOf(o: Option): string {
  const d: unknown = o.defaultValue;
  if (d === undefined || d === false) return '';
  return `\`${typeof d === 'string' ? d : JSON.stringify(d)}\``;
}

/** What a command prints under its --help beyond the generated usage (examples, exit codes), or ''. */
function helpAfter(cmd: Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => void (out += s), getOutHelpWidth: () => 120 });
  cmd.outputHelp();
  const generated = cmd.helpInformation();
  return out.startsWith(generated) ? out.slice(generated.length).trim() : '';
}

/** A command's section, then its subcommands' (`pgdrill server install`), each under its full name. */
function commandSection(cmd: Command, parents: readonly string[] = []): string[] {
  const name = [...parents, cmd.name()].join(' ');
  const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`) + (a.variadic ? '...' : ''));
  const subs = [...cmd.commands].sort((a, b) => a.name().localeCompare(b.name()));
  const usage = subs.length ? `${name} <${subs.map((c) => c.name()).join('|')}>` : [name, '[options]', ...args].join(' ');
  const out = [`## pgdrill ${name}`, '', `${cell(cmd.description())}.`, '', '```', `pgdrill ${usage}`, '```', ''];
  if (cmd.registeredArguments.length) {
    out.push('| argument | meaning |', '|---|---|');
    for (const a of cmd.registeredArguments) out.push(`| \`${a.name()}\`${a.required ? '' : ' (optional)'} | ${cell(a.description ?? '')} |`);
    out.push('');
  }
  const options = cmd.options.filter((o) => !o.hidden);
  if (options.length) {
    out.push('| option | meaning | default |', '|---|---|---|');
    for (const o of options) {
      const choices = o.argChoices ? ` (one of: ${o.argChoices.join(', ')})` : '';
      out.push(`| \`${o.flags}\` | ${cell((o.description ?? '') + choices)} | ${defaultOf(o)} |`);
    }
    out.push('');
  }
  const after = helpAfter(cmd);
  if (after) out.push('Under `--help`:', '', '```', after, '```', '');
  for (const sub of subs) out.push(...commandSection(sub, [...parents, cmd.name()]));
  return out;
}

/** The reference page's text. */
export function commandsReference(): string {
  const program = buildProgram({ signal: new AbortController().signal, logger: silentLogger, argv: [], exitCode: 0 });
  const commands = [...program.commands].sort((a, b) => a.name().localeCompare(b.name()));
  const out = [
    '# Command reference',
    '',
    'Generated from the command definitions (`src/cli/program.ts`) by `npm run schema`; do not edit by hand. Every',
    'command also takes `--help`; `pgdrill --version` prints the version. What the exit codes mean:',
    '[Exit codes](../exit-codes.md); the config file: [Config reference](config.md).',
    '',
    '| command | what it does |',
    '|---|---|',
    ...commands.map((c) => `| [\`${c.name()}\`](#pgdrill-${c.name()}) | ${cell(c.description())} |`),
    '',
  ];
  for (const c of commands) out.push(...commandSection(c));
  return out.join('\n').replace(/\n+$/, '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const file = resolve(import.meta.dirname, '../docs/reference/commands.md');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, commandsReference());
  console.log(`wrote ${file}`);
}
