/** GRANT/REVOKE parsing and role references, through the scanner (one statement per line). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scan } from './scan-helpers.js';

const grantsOf = (sql: string) =>
  scan(`SET standard_conforming_strings = on;\n${sql}\n`).inventory.grants.map((g) =>
    [g.role, g.privilege, g.objectType, g.object, g.columns?.join(',') ?? '', (g as { withGrantOption?: boolean }).withGrantOption ? 'WGO' : ''].join('|'));

describe('GRANT', () => {
  test('one entry per privilege × grantee; comma lists with and without spaces', () => {
    assert.deepEqual(grantsOf('GRANT SELECT,INSERT, UPDATE ON TABLE public.t TO a, b;'), [
      'a|SELECT|TABLE|public.t||', 'b|SELECT|TABLE|public.t||',
      'a|INSERT|TABLE|public.t||', 'b|INSERT|TABLE|public.t||',
      'a|UPDATE|TABLE|public.t||', 'b|UPDATE|TABLE|public.t||',
    ]);
  });
  test('ALL and ALL PRIVILEGES are ALL; TEMP is TEMPORARY; the object type defaults to TABLE', () => {
    assert.deepEqual(grantsOf('GRANT ALL PRIVILEGES ON t TO a;\ngrant all on database d to a;\nGRANT TEMP, CONNECT ON DATABASE d TO a;'), [
      'a|ALL|TABLE|t||', 'a|ALL|DATABASE|d||', 'a|TEMPORARY|DATABASE|d||', 'a|CONNECT|DATABASE|d||',
    ]);
  });
  test('column lists, WITH GRANT OPTION', () => {
    assert.deepEqual(grantsOf('GRANT SELECT(a, "B"),UPDATE(c) ON TABLE s.t TO r WITH GRANT OPTION;'), [
      'r|SELECT|TABLE|s.t|a,B|WGO', 'r|UPDATE|TABLE|s.t|c|WGO',
    ]);
  });
  test('quoted identifiers are unquoted ("a""b" is a"b); unquoted names fold to lower case; PUBLIC and GROUP', () => {
    assert.deepEqual(grantsOf('GRANT USAGE ON SCHEMA "My ""Schema""" TO "My Role", Bob, GROUP staff, PUBLIC;'), [
      'My Role|USAGE|SCHEMA|My "Schema"||', 'bob|USAGE|SCHEMA|My "Schema"||', 'staff|USAGE|SCHEMA|My "Schema"||', 'PUBLIC|USAGE|SCHEMA|My "Schema"||',
    ]);
  });
  test('multi-word object types and signatures', () => {
    assert.deepEqual(grantsOf([
      'GRANT ALL ON FUNCTION public.last_day(timestamp with time zone) TO a;',
      'GRANT USAGE ON FOREIGN DATA WRAPPER fdw TO a;',
      'GRANT USAGE ON FOREIGN SERVER srv TO a;',
      'GRANT SELECT ON LARGE OBJECT 16385 TO a;',
      'GRANT SELECT ON ALL TABLES IN SCHEMA public TO a;',
      'GRANT SET, ALTER SYSTEM ON PARAMETER work_mem TO a;',
      'GRANT USAGE ON TYPE public.mpaa_rating TO a;',
    ].join('\n')), [
      'a|ALL|FUNCTION|public.last_day(timestamp with time zone)||',
      'a|USAGE|FOREIGN DATA WRAPPER|fdw||',
      'a|USAGE|FOREIGN SERVER|srv||',
      'a|SELECT|LARGE OBJECT|16385||',
      'a|SELECT|ALL TABLES IN SCHEMA|public||',
      'a|SET|PARAMETER|work_mem||', 'a|ALTER SYSTEM|PARAMETER|work_mem||',
      'a|USAGE|TYPE|public.mpaa_rating||',
    ]);
  });
  test('role membership: GRANT r1, r2 TO r3 is MEMBER on ROLE', () => {
    assert.deepEqual(grantsOf('GRANT app_ro, "Admins" TO "My Role", carol WITH ADMIN OPTION GRANTED BY postgres;'), [
      'My Role|MEMBER|ROLE|app_ro||WGO', 'carol|MEMBER|ROLE|app_ro||WGO', 'My Role|MEMBER|ROLE|Admins||WGO', 'carol|MEMBER|ROLE|Admins||WGO',
    ]);
  });
  test('line is the GRANT statement\'s first line', () => {
    const r = scan('SELECT 1;\nGRANT SELECT\n  ON t\n  TO a;\n');
    assert.equal(r.inventory.grants[0]?.line, 2);
  });
});

describe('role references', () => {
  test('owner, grant and other, counted; PUBLIC and CURRENT_USER are not roles', () => {
    const r = scan([
      '--',
      '-- Name: t; Type: TABLE; Schema: public; Owner: alice',
      '--',
      'ALTER TABLE public.t OWNER TO alice;',
      'ALTER SCHEMA s OWNER TO "Bob Smith";',
      'ALTER FUNCTION f() OWNER TO CURRENT_USER;',
      'GRANT SELECT ON t TO carol, PUBLIC;',
      'REVOKE ALL ON t FROM dave, PUBLIC;',
      'REVOKE erin FROM frank;',
      'SET ROLE grace;',
      'SET SESSION AUTHORIZATION \'heidi\';',
      'SET SESSION AUTHORIZATION DEFAULT;',
      'RESET ROLE;',
      'ALTER DEFAULT PRIVILEGES FOR ROLE ivan IN SCHEMA s GRANT SELECT ON TABLES TO judy;',
      '',
    ].join('\n'));
    assert.deepEqual(r.inventory.roles, {
      alice: { owner: 2, grant: 0, other: 0 },
      'Bob Smith': { owner: 1, grant: 0, other: 0 },
      carol: { owner: 0, grant: 1, other: 0 },
      dave: { owner: 0, grant: 1, other: 0 },
      erin: { owner: 0, grant: 1, other: 0 },
      frank: { owner: 0, grant: 1, other: 0 },
      grace: { owner: 0, grant: 0, other: 1 },
      heidi: { owner: 0, grant: 0, other: 1 },
      ivan: { owner: 0, grant: 0, other: 1 },
      judy: { owner: 0, grant: 1, other: 0 },
    });
    assert.equal(r.inventory.grants.length, 2, 'REVOKE and default privileges add no grants');
  });
  test("a policy's TO roles and a user mapping's role are roles the restore needs (without globals: placeholders)", () => {
    const r = scan([
      'CREATE POLICY p ON public.t TO z_role, "A Role", PUBLIC USING ((id > 0));',
      'CREATE POLICY "to" ON public.t AS RESTRICTIVE FOR SELECT TO CURRENT_USER, kim WITH CHECK ((a = 1));',
      'ALTER POLICY p ON public.t TO lee;',
      'ALTER POLICY p ON public.t RENAME TO not_a_role;',
      'CREATE POLICY q ON public.t USING (true);',
      'CREATE USER MAPPING FOR mona SERVER s OPTIONS (user \'x\');',
      'CREATE USER MAPPING FOR PUBLIC SERVER s;',
      'CREATE USER MAPPING FOR USER SERVER s;',
      '',
    ].join('\n'));
    assert.deepEqual(Object.keys(r.inventory.roles).sort(), ['A Role', 'kim', 'lee', 'mona', 'z_role']);
    assert.equal(r.inventory.roles.z_role?.other, 1);
  });
  test('a role named like an Object.prototype key is an ordinary key', () => {
    const r = scan('GRANT SELECT ON t TO "__proto__", "constructor";\n');
    assert.deepEqual(Object.keys(r.inventory.roles), ['__proto__', 'constructor']);
    assert.equal(r.inventory.roles['__proto__']?.grant, 1);
  });
});
