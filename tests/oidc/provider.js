// A real OpenID provider (panva/oidc-provider, certified by the OpenID Foundation) for ceir's
// single sign-on test. It signs every browser in as one test person without asking, so the
// test can drive the whole authorization code flow with plain HTTP requests.
//
// Environment: REDIRECT_URI (ceir's callback), CLIENT_ID, CLIENT_SECRET, ACCOUNT (the `sub`),
// EMAIL. It listens on a free loopback port and prints "ready <issuer>" once it can serve.
import http from "node:http";
import Provider from "oidc-provider";

const env = (k, d) => process.env[k] ?? d;
const account = env("ACCOUNT", "alice-sub");
const email = env("EMAIL", "alice@regulator.example");

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: env("CLIENT_ID", "ceir"),
        client_secret: env("CLIENT_SECRET", "ceir-test-secret"),
        redirect_uris: [env("REDIRECT_URI", "http://127.0.0.1:1/auth/oidc/callback")],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // PKCE for every client, not only public ones: ceir must send an S256 challenge.
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email, email_verified: true, name: "Alice Test" }),
    }),
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ["ceir-oidc-test-only"] },
  });

  // Every interaction completes at once: login as the test account, then consent to what the
  // client asked for.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith("/interaction/")) {
      return next();
    }
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, grantId, session, params } = details;
    let result;
    if (prompt.name === "login") {
      result = { login: { accountId: account } };
    } else if (prompt.name === "consent") {
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) {
        grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
      }
      if (prompt.details.missingOIDCClaims) {
        grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      }
      result = { consent: { grantId: await grant.save() } };
    } else {
      ctx.throw(501, `prompt ${prompt.name} not handled`);
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: true,
    });
    ctx.redirect(to);
  });

  server.on("request", provider.callback());
  console.log(`ready ${issuer}`);
});

// The test kills this process when it is done; a closed stdin (the test itself gone) ends it too.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
