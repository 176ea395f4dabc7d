// Maps Google CSP Evaluator findings (npm csp_evaluator) to rampart finding IDs; see README.md.
const {CspEvaluator, DEFAULT_CHECKS, STRICTCSP_CHECKS} = require('csp_evaluator/dist/evaluator.js');
const {CspParser} = require('csp_evaluator/dist/parser.js');
const {Type, Severity} = require('csp_evaluator/dist/finding.js');
const sec = require('csp_evaluator/dist/checks/security_checks.js');
const policies = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const map = (f) => {
  const t = Type[f.type];
  switch (t) {
    case 'SCRIPT_UNSAFE_INLINE': return 'csp/unsafe-inline';
    case 'SCRIPT_UNSAFE_HASHES': return 'csp/unsafe-hashes';
    case 'SCRIPT_UNSAFE_EVAL': return 'csp/unsafe-eval';
    case 'PLAIN_URL_SCHEMES': return 'csp/plain-scheme';
    case 'PLAIN_WILDCARD': return 'csp/wildcard';
    case 'MISSING_DIRECTIVES': return 'csp/missing-' + f.directive;
    case 'SCRIPT_ALLOWLIST_BYPASS': return f.severity === Severity.HIGH ? 'csp/script-allowlist-bypass' : 'csp/script-allowlist';
    case 'OBJECT_ALLOWLIST_BYPASS': return f.severity === Severity.HIGH ? 'flash' : 'csp/object-allowlist';
    case 'IP_SOURCE': return 'csp/ip-source';
    case 'NONCE_LENGTH': return 'csp/nonce-length';
    case 'NONCE_CHARSET': return 'csp/nonce-charset';
    case 'SRC_HTTP': return 'csp/http-source';
    case 'DEPRECATED_DIRECTIVE': return 'csp/deprecated-directive';
    case 'UNKNOWN_DIRECTIVE': return 'csp/unknown-directive';
    case 'MISSING_SEMICOLON': return 'csp/missing-semicolon';
    case 'INVALID_KEYWORD': return 'csp/invalid-keyword';
    case 'STRICT_DYNAMIC': return 'csp/no-strict-dynamic';
    case 'STRICT_DYNAMIC_NOT_STANDALONE': return 'csp/strict-dynamic-without-nonce';
    case 'REQUIRE_TRUSTED_TYPES_FOR_SCRIPTS': return 'csp/no-trusted-types';
    case 'REPORTING_DESTINATION_MISSING': return 'csp/no-reporting';
    default: return null;
  }
};
const out = {};
for (const p of policies) {
  const parsed = new CspParser(p).csp;
  const fs = new CspEvaluator(parsed).evaluate(STRICTCSP_CHECKS, DEFAULT_CHECKS.concat([sec.checkHasConfiguredReporting]));
  out[p] = [...new Set(fs.map(map).filter(x => x))].sort();
}
console.log(JSON.stringify(out, null, 1));
