/* SPDX-License-Identifier: MIT */
/* tests/unit_route53.c — the Route 53 adapter's pure parts: SigV4 against the public AWS test
 * vectors in tests/data/sigv4/, the change batch XML, the list/change answers and every error
 * mapping. No network. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider.h"
#include "route53.h"

static const char *const vectors[] = {
    "get-vanilla",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-key",
    "get-unreserved",
    "get-header-value-trim",
    "get-header-key-duplicate",
    "post-vanilla",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
    "post-sts-header-before",
    "get-vanilla-with-session-token",
    NULL,
};

static char *data_dir(void)
{
	const char *src = getenv("MX_SOURCE_DIR");
	char *out = NULL, *file;

	if (src && *src) {
		if (asprintf(&out, "%s/tests/data/sigv4", src) < 0)
			return NULL;
		return out;
	}
	file = strdup(__FILE__);
	if (file && asprintf(&out, "%s/data/sigv4", dirname(file)) < 0)
		out = NULL;
	free(file);
	return out;
}

static char *slurp(const char *dir, const char *name, const char *ext)
{
	char path[1024], *buf = NULL;
	size_t len = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s/%s.%s", dir, name, name, ext);
	fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	if (getdelim(&buf, &len, '\0', fp) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

/* Signs one suite case: parses the .req (request line, headers, blank line, body). */
static void test_vector(const char *dir, const char *name)
{
	char *req = slurp(dir, name, "req"), *creq = slurp(dir, name, "creq");
	char *sts = slurp(dir, name, "sts"), *authz = slurp(dir, name, "authz");
	struct r53_header headers[16];
	struct r53_sigv4_req sreq = {0};
	struct r53_sigv4 out;
	char *line, *save = NULL, *target, *q, *body = NULL, *sep;
	size_t nh = 0;

	CHECK(req && creq && sts && authz);
	if (!req || !creq || !sts || !authz)
		goto out;
	sep = strstr(req, "\n\n");
	if (sep) {
		*sep = '\0';
		body = sep + 2;
	}
	line = strtok_r(req, "\n", &save);
	sreq.method = strtok_r(line, " ", &target);
	target = strtok_r(NULL, " ", &target);
	q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	sreq.path = target;
	sreq.query = q;
	while ((line = strtok_r(NULL, "\n", &save)) && nh < 16) {
		char *colon = strchr(line, ':');

		*colon = '\0';
		headers[nh].name = line;
		headers[nh].value = colon + 1;
		if (!strcasecmp(line, "X-Amz-Date"))
			sreq.amz_date = colon + 1;
		nh++;
	}
	sreq.headers = headers;
	sreq.nheaders = nh;
	sreq.body = body;
	sreq.body_len = body ? strlen(body) : 0;
	sreq.region = "us-east-1";
	sreq.service = "service";
	sreq.key_id = "AKIDEXAMPLE";
	sreq.secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	CHECK_INT(r53_sigv4_sign(&sreq, &out, NULL), MX_OK);
	if (strcmp(out.creq, creq) || strcmp(out.sts, sts) || strcmp(out.authz, authz))
		fprintf(stderr, "vector %s:\n", name);
	CHECK_STR(out.creq, creq);
	CHECK_STR(out.sts, sts);
	CHECK_STR(out.authz, authz);
	r53_sigv4_free(&out);
out:
	free(req);
	free(creq);
	free(sts);
	free(authz);
}

static void test_sigv4(void)
{
	char *dir = data_dir();
	struct r53_header no_date[] = {{"Host", "example.amazonaws.com"}};
	struct r53_sigv4_req bad = {.method = "GET",
	    .path = "/",
	    .headers = no_date,
	    .nheaders = 1,
	    .amz_date = "20150830T123600Z",
	    .region = "us-east-1",
	    .service = "route53",
	    .key_id = "AKIDEXAMPLE",
	    .secret = "x"};
	struct r53_sigv4 out;
	struct mx_err err = {0};

	CHECK(dir != NULL);
	for (size_t i = 0; dir && vectors[i]; i++)
		test_vector(dir, vectors[i]);
	free(dir);
	CHECK_INT(r53_sigv4_sign(&bad, &out, &err), MX_EINVAL);
	CHECK(strstr(err.msg, "X-Amz-Date") != NULL);

	/* A Route 53 request as the adapter signs it: the path is kept, the query sorted, and
	 * the region/service appear in the scope. */
	{
		struct r53_header h[] = {
		    {"Host", "route53.amazonaws.com"}, {"X-Amz-Date", "20260101T000000Z"}};
		struct r53_sigv4_req r = {.method = "GET",
		    .path = "/2013-04-01/hostedzone/Z1/rrset",
		    .query = "type=MX&name=contoso.com.&maxitems=100",
		    .headers = h,
		    .nheaders = 2,
		    .amz_date = "20260101T000000Z",
		    .region = "us-east-1",
		    .service = "route53",
		    .key_id = "AKID",
		    .secret = "s"};

		CHECK_INT(r53_sigv4_sign(&r, &out, NULL), MX_OK);
		CHECK(!strncmp(out.creq,
		    "GET\n/2013-04-01/hostedzone/Z1/"
		    "rrset\nmaxitems=100&name=contoso.com.&type=MX\n",
		    70));
		CHECK(strstr(out.authz, "Credential=AKID/20260101/us-east-1/route53/aws4_request, "
					"SignedHeaders=host;x-amz-date, Signature=") != NULL);
		CHECK(strstr(out.creq, "x-amz-date") != NULL);
		r53_sigv4_free(&out);
	}
}

static void set_values(
    struct mx_rrset *s, const char *name, uint16_t type, uint32_t ttl, const char *const *values)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = type;
	s->ttl = ttl;
	for (size_t i = 0; values[i]; i++)
		CHECK_INT(prov_rrset_add(s, values[i], NULL), MX_OK);
}

static void test_change_batch(void)
{
	const char *legacy[] = {"0 contoso-com.mail.protection.outlook.com", NULL};
	const char *both[] = {
	    "0 contoso-com.mail.protection.outlook.com", "20 contoso-com.o-v1.mx.microsoft", NULL};
	const char *txt[] = {"v=STSv1; id=2026\"x\\", NULL};
	struct mx_rrset expect, want, none = {0}, t;
	struct mx_err err = {0};
	char *xml;
	const char *del, *cre;

	set_values(&expect, "contoso.com", DNS_T_MX, 3600, legacy);
	set_values(&want, "contoso.com", DNS_T_MX, 30, both);
	xml = r53_change_batch_xml(&expect, &want, &err);
	CHECK(xml != NULL);
	if (xml) {
		CHECK(strstr(xml,
			  "<ChangeResourceRecordSetsRequest "
			  "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">") != NULL);
		del = strstr(xml, "<Action>DELETE</Action>");
		cre = strstr(xml, "<Action>CREATE</Action>");
		CHECK(del && cre && del < cre);
		CHECK(!strstr(xml, "UPSERT"));
		CHECK(strstr(xml, "<Name>contoso.com.</Name><Type>MX</Type><TTL>3600</TTL>"
				  "<ResourceRecords><ResourceRecord><Value>0 "
				  "contoso-com.mail.protection.outlook.com.</Value>") != NULL);
		CHECK(strstr(xml, "<TTL>30</TTL>") != NULL);
		CHECK(strstr(xml, "<Value>20 contoso-com.o-v1.mx.microsoft.</Value>") != NULL);
	}
	free(xml);

	/* CREATE alone when the RRset did not exist; DELETE alone to remove it. */
	none.type = DNS_T_MX;
	snprintf(none.name, sizeof(none.name), "contoso.com");
	xml = r53_change_batch_xml(&none, &want, NULL);
	CHECK(xml && !strstr(xml, "DELETE") && strstr(xml, "CREATE"));
	free(xml);
	xml = r53_change_batch_xml(&expect, &none, NULL);
	CHECK(xml && strstr(xml, "DELETE") && !strstr(xml, "CREATE"));
	free(xml);
	CHECK(r53_change_batch_xml(&none, &none, &err) == NULL);
	CHECK_INT(err.rc, MX_EINVAL);

	/* TXT: quoted, '"' and '\' escaped, XML-escaped by libxml2. */
	set_values(&t, "_mta-sts.contoso.com", DNS_T_TXT, 300, txt);
	xml = r53_change_batch_xml(&none, &t, NULL);
	CHECK(xml && strstr(xml, "<Value>\"v=STSv1; id=2026\\\"x\\\\\"</Value>"));
	free(xml);
	prov_rrset_clear(&t);

	/* A malformed MX value is refused, naming it. */
	{
		const char *bad[] = {"nonsense", NULL};
		struct mx_rrset b;

		set_values(&b, "contoso.com", DNS_T_MX, 300, bad);
		CHECK(r53_change_batch_xml(&none, &b, &err) == NULL);
		CHECK(strstr(err.msg, "nonsense") != NULL);
		prov_rrset_clear(&b);
	}
	prov_rrset_clear(&expect);
	prov_rrset_clear(&want);
}

static const char list_page1[] =
    "<?xml version=\"1.0\"?>\n"
    "<ListResourceRecordSetsResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
    "<ResourceRecordSets><ResourceRecordSet><Name>contoso.com.</Name><Type>MX</Type>"
    "<TTL>3600</TTL><ResourceRecords><ResourceRecord><Value>10 B.Example.</Value>"
    "</ResourceRecord><ResourceRecord><Value>0 a.example.</Value></ResourceRecord>"
    "</ResourceRecords></ResourceRecordSet></ResourceRecordSets>"
    "<IsTruncated>true</IsTruncated><NextRecordName>contoso.com.</NextRecordName>"
    "<NextRecordType>NS</NextRecordType><MaxItems>1</MaxItems>"
    "</ListResourceRecordSetsResponse>";

static const char list_other[] =
    "<ListResourceRecordSetsResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
    "<ResourceRecordSets><ResourceRecordSet><Name>contoso.com.</Name><Type>NS</Type>"
    "<TTL>172800</TTL><ResourceRecords><ResourceRecord><Value>ns-1.awsdns-00.com.</Value>"
    "</ResourceRecord></ResourceRecords></ResourceRecordSet></ResourceRecordSets>"
    "<IsTruncated>false</IsTruncated><MaxItems>1</MaxItems>"
    "</ListResourceRecordSetsResponse>";

static const char list_txt[] =
    "<ListResourceRecordSetsResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
    "<ResourceRecordSets><ResourceRecordSet><Name>_mta-sts.contoso.com.</Name><Type>TXT</Type>"
    "<TTL>300</TTL><ResourceRecords><ResourceRecord><Value>\"v=STSv1; \" \"id=1\\073\"</Value>"
    "</ResourceRecord></ResourceRecords></ResourceRecordSet></ResourceRecordSets>"
    "<IsTruncated>true</IsTruncated><NextRecordName>_mta-sts.contoso.com.</NextRecordName>"
    "<NextRecordType>TXT</NextRecordType><NextRecordIdentifier>b</NextRecordIdentifier>"
    "<MaxItems>1</MaxItems></ListResourceRecordSetsResponse>";

static const char list_alias[] =
    "<ListResourceRecordSetsResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
    "<ResourceRecordSets><ResourceRecordSet><Name>contoso.com.</Name><Type>MX</Type>"
    "<SetIdentifier>east</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords>"
    "<ResourceRecord><Value>0 a.example.</Value></ResourceRecord></ResourceRecords>"
    "</ResourceRecordSet></ResourceRecordSets><IsTruncated>false</IsTruncated>"
    "<MaxItems>100</MaxItems></ListResourceRecordSetsResponse>";

static void test_rrsets_parse(void)
{
	struct mx_rrset out = {0};
	struct r53_rr_page page;
	struct mx_err err = {0};

	snprintf(out.name, sizeof(out.name), "contoso.com");
	out.type = DNS_T_MX;
	CHECK_INT(r53_rrsets_parse(
		      list_page1, strlen(list_page1), "contoso.com", DNS_T_MX, &out, &page, &err),
	    MX_OK);
	prov_rrset_sort(&out);
	CHECK_INT(out.n, 2);
	CHECK_INT(out.ttl, 3600);
	if (out.n == 2) {
		CHECK_STR(out.values[0], "0 a.example");
		CHECK_STR(out.values[1], "10 b.example");
	}
	/* Truncated, but the next page starts at another type: nothing more to read. */
	CHECK(page.truncated && page.past);
	CHECK_STR(page.next_type, "NS");
	prov_rrset_clear(&out);

	/* The listing starts after name/type when it does not exist. */
	CHECK_INT(r53_rrsets_parse(
		      list_other, strlen(list_other), "contoso.com", DNS_T_MX, &out, &page, &err),
	    MX_OK);
	CHECK_INT(out.n, 0);
	CHECK(page.past && !page.truncated);

	/* TXT strings concatenated, octal escapes decoded; the next page continues it. */
	snprintf(out.name, sizeof(out.name), "_mta-sts.contoso.com");
	CHECK_INT(r53_rrsets_parse(list_txt, strlen(list_txt), "_mta-sts.contoso.com", DNS_T_TXT,
		      &out, &page, &err),
	    MX_OK);
	CHECK_INT(out.n, 1);
	if (out.n)
		CHECK_STR(out.values[0], "v=STSv1; id=1;");
	CHECK(page.truncated && !page.past);
	CHECK_STR(page.next_id, "b");
	prov_rrset_clear(&out);

	CHECK_INT(r53_rrsets_parse(
		      list_alias, strlen(list_alias), "contoso.com", DNS_T_MX, &out, &page, &err),
	    MX_OK);
	CHECK(page.unsupported);
	prov_rrset_clear(&out);

	CHECK_INT(r53_rrsets_parse("<html/>", 7, "contoso.com", DNS_T_MX, &out, &page, &err),
	    MX_EPROVIDER);
	CHECK(strstr(err.msg, "route53:") && strstr(err.msg, "base_url"));
	CHECK_INT(r53_rrsets_parse("not xml", 7, "contoso.com", DNS_T_MX, &out, &page, &err),
	    MX_EPROVIDER);
}

static void test_zones_parse(void)
{
	static const char page1[] =
	    "<ListHostedZonesByNameResponse "
	    "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
	    "<HostedZones><HostedZone><Id>/hostedzone/ZPRIV</Id><Name>contoso.com.</Name>"
	    "<CallerReference>a</CallerReference><Config><PrivateZone>true</PrivateZone></Config>"
	    "</HostedZone></HostedZones><DNSName>contoso.com.</DNSName><IsTruncated>true"
	    "</IsTruncated><MaxItems>1</MaxItems><NextDNSName>contoso.com.</NextDNSName>"
	    "<NextHostedZoneId>ZPUB</NextHostedZoneId></ListHostedZonesByNameResponse>";
	static const char page2[] =
	    "<ListHostedZonesByNameResponse "
	    "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
	    "<HostedZones><HostedZone><Id>/hostedzone/ZPUB</Id><Name>contoso.com.</Name>"
	    "<Config><PrivateZone>false</PrivateZone></Config></HostedZone><HostedZone>"
	    "<Id>/hostedzone/ZOTHER</Id><Name>contoso.net.</Name></HostedZone></HostedZones>"
	    "<IsTruncated>false</IsTruncated><MaxItems>2</MaxItems>"
	    "</ListHostedZonesByNameResponse>";
	struct r53_zone_page page;
	char *id = NULL;

	CHECK_INT(r53_zones_parse(page1, strlen(page1), "contoso.com", &id, &page, NULL), MX_OK);
	CHECK(id == NULL && page.matches == 0 && page.truncated);
	CHECK_STR(page.next_id, "ZPUB");
	CHECK_STR(page.next_name, "contoso.com.");
	CHECK_INT(r53_zones_parse(page2, strlen(page2), "contoso.com", &id, &page, NULL), MX_OK);
	CHECK_STR(id, "ZPUB");
	CHECK_INT(page.matches, 1);
	free(id);
	id = NULL;
	CHECK_INT(r53_zones_parse("<x/>", 4, "contoso.com", &id, &page, NULL), MX_EPROVIDER);
}

static void test_change_parse(void)
{
	static const char ok[] =
	    "<ChangeResourceRecordSetsResponse "
	    "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
	    "<ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status>"
	    "<SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo>"
	    "</ChangeResourceRecordSetsResponse>";
	char id[64], status[16];

	CHECK_INT(
	    r53_change_parse(ok, strlen(ok), id, sizeof(id), status, sizeof(status), NULL), MX_OK);
	CHECK_STR(id, "C2682N5HXP0BZ4");
	CHECK_STR(status, "PENDING");
	CHECK_INT(r53_change_parse("<a/>", 4, id, sizeof(id), status, sizeof(status), NULL),
	    MX_EPROVIDER);
}

static char *error_xml(const char *code, const char *message)
{
	char *out = NULL;

	if (asprintf(&out,
		"<?xml version=\"1.0\"?>\n<ErrorResponse "
		"xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type>"
		"<Code>%s</Code><Message>%s</Message></Error><RequestId>r1</RequestId>"
		"</ErrorResponse>",
		code, message) < 0)
		return NULL;
	return out;
}

/* Maps (status, code) and checks the code, the status and that the sentence names route53,
 * the HTTP status and the given fix. */
static void check_mapping(
    long status, const char *code, const char *message, int want_rc, const char *fix)
{
	struct r53_call call = {
	    "r53", "ChangeResourceRecordSets", "contoso.com", "Z1", "the MX RRset of contoso.com"};
	struct mx_err err = {0};
	char *body = error_xml(code, message), st[16];

	snprintf(st, sizeof(st), "HTTP %ld", status);
	CHECK_INT(r53_status_error(&call, status, body, strlen(body), &err), want_rc);
	CHECK_INT(err.http_status, status);
	CHECK(!strncmp(err.msg, "route53: ", 9));
	if (!strstr(err.msg, st) || !strstr(err.msg, fix))
		fprintf(stderr, "mapping %ld %s: %s\n", status, code, err.msg);
	CHECK(strstr(err.msg, st) != NULL);
	CHECK(strstr(err.msg, fix) != NULL);
	CHECK(!strstr(err.msg, "wJalr"));
	free(body);
}

static void test_errors(void)
{
	static const char icb[] =
	    "<?xml version=\"1.0\"?>\n<InvalidChangeBatch "
	    "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Messages><Message>Tried to "
	    "delete resource record set [name='contoso.com.', type='MX'] but the values provided "
	    "do not match the current values</Message></Messages><RequestId>r</RequestId>"
	    "</InvalidChangeBatch>";
	struct r53_call call = {
	    "r53", "ChangeResourceRecordSets", "contoso.com", "Z1", "the MX RRset of contoso.com"};
	struct mx_err err = {0};
	char code[64], msg[256];

	check_mapping(403, "SignatureDoesNotMatch", "The request signature we calculated", MX_EAUTH,
	    "secret_access_key_file");
	check_mapping(403, "InvalidClientTokenId", "The security token included is invalid",
	    MX_EAUTH, "access_key_id_env");
	check_mapping(403, "ExpiredToken", "The security token included in the request is expired",
	    MX_EAUTH, "session_token_env");
	check_mapping(403, "AccessDenied", "User is not authorized", MX_EAUTH,
	    "grant it route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone/Z1");
	check_mapping(404, "NoSuchHostedZone", "No hosted zone found with ID: Z1", MX_ENOZONE,
	    "fix hosted_zone_id");
	check_mapping(400, "InvalidChangeBatch",
	    "Tried to create resource record set but it already exists", MX_ECONFLICT,
	    "changed behind our back");
	check_mapping(400, "Throttling", "Rate exceeded", MX_ERATELIMIT, "wait a minute");
	check_mapping(
	    400, "PriorRequestNotComplete", "The request was rejected", MX_ERATELIMIT, "resume");
	check_mapping(
	    400, "InvalidInput", "Invalid XML", MX_EPROVIDER, "InvalidInput: Invalid XML");
	check_mapping(503, "ServiceUnavailable", "busy", MX_ERATELIMIT, "wait a minute");

	/* The documented InvalidChangeBatch shape (Messages/Message) is a conflict. */
	r53_error_parse(icb, strlen(icb), code, sizeof(code), msg, sizeof(msg));
	CHECK_STR(code, "InvalidChangeBatch");
	CHECK(strstr(msg, "do not match") != NULL);
	CHECK_INT(r53_status_error(&call, 400, icb, strlen(icb), &err), MX_ECONFLICT);
	CHECK(strstr(err.msg, "the MX RRset of contoso.com changed behind our back (HTTP 400") !=
	      NULL);

	/* A body that is not XML still gives a sentence. */
	CHECK_INT(r53_status_error(&call, 418, "teapot", 6, &err), MX_EPROVIDER);
	CHECK(strstr(err.msg, "unexpected HTTP 418") && strstr(err.msg, "base_url"));

	/* What is retried. */
	{
		char *thr = error_xml("Throttling", "Rate exceeded");
		char *inv = error_xml("InvalidInput", "x");

		CHECK(r53_retryable(400, thr, strlen(thr)));
		CHECK(!r53_retryable(400, inv, strlen(inv)));
		CHECK(r53_retryable(429, "", 0));
		CHECK(r53_retryable(503, "", 0));
		CHECK(!r53_retryable(403, "", 0));
		free(thr);
		free(inv);
	}
}

static void test_registry(void)
{
	const struct prov_ops *ops = prov_find("route53");

	CHECK(ops == &prov_route53_ops);
	CHECK(ops && (ops->caps & PROV_CAP_CAS) && (ops->caps & PROV_CAP_ATOMIC));
	CHECK(ops && ops->min_ttl == 1);
}

/* GetHostedZone: the zone's name and whether it is private. */
static void test_hosted_zone_parse(void)
{
	const char *pub =
	    "<?xml version=\"1.0\"?><GetHostedZoneResponse xmlns=\""
	    "https://route53.amazonaws.com/doc/2013-04-01/\"><HostedZone><Id>/hostedzone/"
	    "Z1</Id><Name>contoso.com.</Name><Config><PrivateZone>false</PrivateZone>"
	    "</Config></HostedZone><DelegationSet><NameServers><NameServer>ns-1.example"
	    "</NameServer></NameServers></DelegationSet></GetHostedZoneResponse>";
	const char *priv = "<GetHostedZoneResponse><HostedZone><Name>contoso.com.</Name><Config>"
			   "<PrivateZone>true</PrivateZone></Config></HostedZone>"
			   "</GetHostedZoneResponse>";
	struct mx_err err = {0};
	char name[256];
	bool private_zone = true;

	CHECK_INT(r53_hosted_zone_parse(pub, strlen(pub), name, sizeof(name), &private_zone, &err),
	    MX_OK);
	CHECK_STR(name, "contoso.com.");
	CHECK(!private_zone);
	CHECK_INT(
	    r53_hosted_zone_parse(priv, strlen(priv), name, sizeof(name), &private_zone, &err),
	    MX_OK);
	CHECK(private_zone);
	CHECK_INT(r53_hosted_zone_parse("<Other/>", 8, name, sizeof(name), &private_zone, &err),
	    MX_EPROVIDER);
	CHECK(strstr(err.msg, "GetHostedZone") != NULL);
}

int main(void)
{
	test_sigv4();
	test_change_batch();
	test_rrsets_parse();
	test_zones_parse();
	test_change_parse();
	test_hosted_zone_parse();
	test_errors();
	test_registry();
	return CHECK_DONE();
}
