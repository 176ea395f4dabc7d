package scan

// cspBypassSource cites where the allow-list bypass URLs come from.
const cspBypassSource = "google/csp-evaluator allowlist_bypasses/jsonp.ts and angular.ts @ d5cddb91095c7fda8ed6671ede5e68a4e78e7b6b (Apache-2.0)"

// cspBypassURL is a URL on a commonly allow-listed host that serves JSONP
// (a callback parameter turns the reply into script the attacker chooses) or
// an old AngularJS (whose template expressions run script without inline
// code). Either lets an attacker who can inject markup run script despite a
// host allow-list that includes the host.
type cspBypassURL struct {
	host, path string
	kind       string // "JSONP" or "AngularJS"
	needsEval  bool   // the JSONP reply runs only where 'unsafe-eval' is allowed
}

// cspBypassURLs is a small selection (the most often allow-listed hosts) of
// the lists in cspBypassSource: the full lists hold some 170 URLs, mostly on
// hosts few policies name. Paths matter because an allow-list entry with a
// path only matches that path.
var cspBypassURLs = []cspBypassURL{
	{"www.google.com", "/tools/feedback/escalation-options", "JSONP", false},
	{"accounts.google.com", "/o/oauth2/revoke", "JSONP", false},
	{"clients1.google.com", "/complete/search", "JSONP", false},
	{"books.google.com", "/books", "JSONP", false},
	{"translate.google.com", "/translate_a/l", "JSONP", false},
	{"translate.googleapis.com", "/translate_a/l", "JSONP", false},
	{"ajax.googleapis.com", "/ajax/services/search/news", "JSONP", false},
	{"maps.googleapis.com", "/maps/api/js/GeoPhotoService.GetMetadata", "JSONP", false},
	{"www.googleapis.com", "/freebase/v1/topic/m/0344_", "JSONP", false},
	{"cse.google.com", "/api/007627024705277327428/cse/r3vs7b0fcli/queries/js", "JSONP", false},
	{"googleads.g.doubleclick.net", "/pagead/conversion/1036918760/wcm", "JSONP", false},
	{"securepubads.g.doubleclick.net", "/gampad/ads", "JSONP", false},
	{"pagead2.googlesyndication.com", "/relatedsearch", "JSONP", false},
	{"partner.googleadservices.com", "/gampad/ads", "JSONP", false},
	{"www.googleadservices.com", "/pagead/conversion/1070110417/wcm", "JSONP", true},
	{"www.googletagmanager.com", "/gtm/js", "JSONP", true},
	{"googletagmanager.com", "/gtm/js", "JSONP", true},
	{"www.google-analytics.com", "/gtm/js", "JSONP", true},
	{"ssl.google-analytics.com", "/gtm/js", "JSONP", true},
	{"www.youtube.com", "/profile_style", "JSONP", false},
	{"api.facebook.com", "/restserver.php", "JSONP", false},
	{"graph.facebook.com", "/1/", "JSONP", false},
	{"www.facebook.com", "/restserver.php", "JSONP", false},
	{"syndication.twitter.com", "/widgets/timelines/765840589183213568", "JSONP", false},
	{"cdn.syndication.twimg.com", "/widgets/timelines/599200054310604802", "JSONP", false},
	{"publish.twitter.com", "/oembed", "JSONP", false},
	{"vimeo.com", "/api/oembed.json/", "JSONP", false},
	{"api.vk.com", "/method/wall.get", "JSONP", false},
	{"mc.yandex.ru", "/watch/24306916/1", "JSONP", false},
	{"api.mixpanel.com", "/track/", "JSONP", false},
	{"api.flickr.com", "/services/feeds/photos_friends.gne", "JSONP", false},
	{"query.yahooapis.com", "/v1/public/yql", "JSONP", false},
	{"se.wikipedia.org", "/w/api.php", "JSONP", false},
	{"cdn.jsdelivr.net", "/", "JSONP", false},
	{"ajax.googleapis.com", "/ajax/libs/angularjs/1.2.0rc1/angular-route.min.js", "AngularJS", false},
	{"cdnjs.cloudflare.com", "/ajax/libs/angular.js/1.2.16/angular.min.js", "AngularJS", false},
	{"cdn.jsdelivr.net", "/angularjs/1.1.2/angular.min.js", "AngularJS", false},
	{"www.gstatic.com", "/fsn/angular_js-bundle1.js", "AngularJS", false},
	{"gstatic.com", "/fsn/angular_js-bundle1.js", "AngularJS", false},
	{"storage.googleapis.com", "/assets-prod.urbansitter.net/us-sym/assets/vendor/angular-sanitize/angular-sanitize.min.js", "AngularJS", false},
	{"raw.githubusercontent.com", "/angular/code.angularjs.org/master/1.0.7/angular-resource.js", "AngularJS", false},
	{"oss.maxcdn.com", "/angularjs/1.2.20/angular.min.js", "AngularJS", false},
	{"cdn.shopify.com", "/s/files/1/0225/6463/t/1/assets/angular-animate.min.js", "AngularJS", false},
	{"yastatic.net", "/angularjs/1.2.23/angular.min.js", "AngularJS", false},
	{"cdn.bootcss.com", "/angular.js/1.2.0/angular.min.js", "AngularJS", false},
	{"s3-eu-west-1.amazonaws.com", "/staticancpa/js/angular-cookies.min.js", "AngularJS", false},
}
