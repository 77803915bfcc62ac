-- wrk script: POST a realistic Patient (a new resource per request).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"
wrk.body = [[{"resourceType":"Patient","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:oid:2.16.840.1.113883.3.9999.1","value":"MRN0042117"}],"active":true,"name":[{"use":"official","family":"Whitfield","given":["Joanna","Marie"]}],"telecom":[{"system":"phone","value":"555-201-3344","use":"mobile"},{"system":"email","value":"joanna.whitfield@example.com"}],"gender":"female","birthDate":"1979-08-14","address":[{"use":"home","line":["1180 Elm Street"],"city":"Springfield","state":"IL","postalCode":"62704","country":"US"}],"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-US"}]}}]}]]
